import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { constants } from 'node:perf_hooks';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { Appliance } from '../../../appliance/appliance';
import { loadConfig } from '../../../appliance/config/load';
import { summarizeConfig } from '../../../appliance/config/summary';
import { MetricsServer } from '../../../appliance/metrics/server';
import { EndReason } from '../../../appliance/stats/end-reason';
import { REPO } from '../../lab/lab';
import { configProblems } from '../config-problems';
import { appended, confCopies } from '../conf-dir';
import { fakeAppliance, scrape, value } from './fake-appliance';

describe('metrics: the metric set', function () {
  it('announces every family with HELP and TYPE, each once, and names follow the conventions', function () {
    const text = scrape(fakeAppliance().a);
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
    const helps = [...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]);
    expect(helps).to.deep.equal(types.map((t) => t[0]));
    expect(new Set(helps).size).to.equal(helps.length);
    for (const [name, type] of types) {
      expect(name, name).to.match(/^(socksalp|process)_[a-z0-9_]+$/);
      if (type === 'counter') expect(name).to.match(/_total$/);
      else expect(name).to.not.match(/_total$/);
    }
    // Every sample belongs to the family announced last.
    let family = '';
    for (const line of text.split('\n').filter(Boolean)) {
      const m = /^# TYPE (\S+)/.exec(line);
      if (m) family = m[1];
      else if (!line.startsWith('#')) expect(line.split(/[{ ]/)[0], line).to.match(new RegExp(`^${family}(_bucket|_sum|_count)?$`));
    }
  });

  it('exports the runtime figures: event-loop delay summary, utilization, GC pauses and runs by kind', function () {
    const { a } = fakeAppliance();
    a.runtime.gc(constants.NODE_PERFORMANCE_GC_MAJOR, 0.25);
    a.runtime.gc(constants.NODE_PERFORMANCE_GC_MAJOR, 0.5);
    const text = scrape(a);
    expect(text).to.include('# TYPE socksalp_event_loop_delay_seconds summary');
    expect(value(text, 'socksalp_event_loop_delay_seconds{quantile="0.99"}')).to.equal(0); // not started: no samples
    expect(value(text, 'socksalp_event_loop_delay_seconds_count')).to.equal(0);
    expect(value(text, 'socksalp_event_loop_utilization')).to.equal(0);
    expect(value(text, 'socksalp_gc_pause_seconds_total{kind="major"}')).to.equal(0.75);
    expect(value(text, 'socksalp_gc_runs_total{kind="major"}')).to.equal(2);
    expect(value(text, 'socksalp_gc_runs_total{kind="minor"}')).to.equal(0);
  });

  it('counts ended connections by server, ALP and outcome; "" for a server or ALP never chosen', function () {
    const { a, ended, config } = fakeAppliance();
    const http = a.alps.idOf('http')!;
    ended.push([0, http, EndReason.Fin, 7], [1, http, EndReason.ServerReset, 2], [-1, -1, EndReason.Refused, 3]);
    const text = scrape(a);
    expect(value(text, `socksalp_connections_total{server="${config.servers[0].name}",alp="http",outcome="fin"}`)).to.equal(7);
    expect(value(text, `socksalp_connections_total{server="${config.servers[1].name}",alp="http",outcome="server-reset"}`)).to.equal(2);
    expect(value(text, 'socksalp_connections_total{server="",alp="",outcome="refused"}')).to.equal(3);
  });

  it('shows each server in exactly one state, and the state it is in', function () {
    const { a, config } = fakeAppliance();
    const [first, second] = config.servers.map((s) => s.name);
    a.health.resolved.fill(true);
    a.health.deviceDown[1] = true;
    const text = scrape(a);
    const states = (server: string) => Object.fromEntries(['up', 'failing', 'check-down', 'no-device', 'unresolved'].map((st) => [st, value(text, `socksalp_server_state{server="${server}",state="${st}"}`)]));
    expect(states(first)).to.deep.equal({ up: 1, failing: 0, 'check-down': 0, 'no-device': 0, unresolved: 0 });
    expect(states(second)).to.deep.equal({ up: 0, failing: 0, 'check-down': 0, 'no-device': 1, unresolved: 0 });
  });

  it('reads queues, discards by ALP and by priority, drops, table sizes and limits, histograms from the live counters', function () {
    const { a, config, histograms } = fakeAppliance();
    const sa = config.servers[0].name;
    const e = a.forwarder.egress;
    const ssl = a.alps.idOf('ssl')!;
    e.discardsByAlp[0][ssl] = 4;
    // A reload moved ssl from priority 2 to 6 after 3 of its discards: each count stays where it was.
    e.discardsByPriority[0][2] = 3;
    e.discardsByPriority[0][6] = 1;
    a.forwarder.drops['queue-full'] = 5;
    e.stats[0].bytesOut = 1234;
    a.dispatcher.guard.stats.rstExact = 6;
    a.flowStats.alpBytes[ssl] = 777;
    const h = histograms.handshake[0];
    h.counts.set([1, 2, 0, 0, 1]);
    h.sum = 2.5;
    h.count = 4;
    const text = scrape(a);
    expect(value(text, `socksalp_alp_discards_total{server="${sa}",alp="ssl"}`)).to.equal(4);
    expect(text).to.not.match(/socksalp_alp_discards_total\{[^}]*alp="http"/); // nonzero only
    expect(value(text, `socksalp_priority_discards_total{server="${sa}",priority="2"}`)).to.equal(3);
    expect(value(text, `socksalp_priority_discards_total{server="${sa}",priority="6"}`)).to.equal(1);
    expect(text.match(/^socksalp_priority_discards_total\{/gm), 'nonzero only').to.have.length(2);
    expect(text).to.not.match(/^socksalp_discards_total/m);
    expect(value(text, 'socksalp_drops_total{reason="queue-full"}')).to.equal(5);
    expect(value(text, `socksalp_server_bytes_total{server="${sa}",direction="to-server"}`)).to.equal(1234);
    expect(value(text, `socksalp_server_queue_limit_packets{server="${sa}"}`)).to.equal(config.servers[0].queueLimit);
    expect(value(text, `socksalp_server_queue_packets{server="${sa}"}`)).to.equal(0);
    expect(value(text, 'socksalp_rfc5961_events_total{event="rst-exact"}')).to.equal(6);
    expect(value(text, 'socksalp_alp_bytes_total{alp="ssl"}')).to.equal(777);
    expect(value(text, 'socksalp_connection_table_limit')).to.equal(config.appliance.maxConnections);
    expect(value(text, 'socksalp_current_connections_limit')).to.equal(config.diversion.maxFlows);
    expect(value(text, 'socksalp_build_info{version="9.8.7"}')).to.equal(1);
    expect(value(text, `socksalp_handshake_duration_seconds_bucket{server="${sa}",le="0.01"}`)).to.equal(3);
    expect(value(text, `socksalp_handshake_duration_seconds_bucket{server="${sa}",le="+Inf"}`)).to.equal(4);
    expect(value(text, `socksalp_handshake_duration_seconds_sum{server="${sa}"}`)).to.equal(2.5);
    expect(value(text, 'socksalp_uptime_seconds')).to.be.within(4.9, 10);
  });
});

describe('metrics: the HTTP endpoint', function () {
  const logs: string[] = [];
  const { a } = fakeAppliance(logs);
  const server = new MetricsServer(a, { address: 0x7f000001, port: 0 });
  let port = 0;
  before(async function () {
    expect(await server.listen()).to.equal(true);
    port = ((server as unknown as { server: { address(): { port: number } } }).server.address()).port;
  });
  after(() => server.close());

  function get(path: string, method = 'GET', body?: string): Promise<{ status: number; type: string; text: string; allow?: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, agent: false, headers: body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (b) => (text += b));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), text, allow: res.headers.allow }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('answers GET /metrics in the text format 0.0.4; other paths 404, other methods 405, a body 413, no stack', async function () {
    const ok = await get('/metrics');
    expect(ok.status).to.equal(200);
    expect(ok.type).to.equal('text/plain; version=0.0.4; charset=utf-8');
    expect(ok.text).to.match(/^socksalp_build_info\{version="9\.8\.7"\} 1$/m);
    const head = await get('/metrics', 'HEAD');
    expect([head.status, head.text]).to.deep.equal([200, '']);
    expect((await get('/')).status).to.equal(404);
    expect((await get('/metrics/x')).status).to.equal(404);
    const post = await get('/metrics', 'POST');
    expect([post.status, post.allow]).to.deep.equal([405, 'GET, HEAD']);
    expect((await get('/metrics', 'GET', 'x'.repeat(100))).status).to.equal(413);
    const again = await get('/metrics?x=1');
    expect(value(again.text, 'socksalp_metrics_requests_total{code="200"}')).to.equal(2);
    expect(value(again.text, 'socksalp_metrics_requests_total{code="404"}')).to.equal(2);
    expect(value(again.text, 'socksalp_metrics_requests_total{code="405"}')).to.equal(1);
    expect(value(again.text, 'socksalp_metrics_requests_total{code="413"}')).to.equal(1);
    for (const r of [ok, post]) expect(r.text).to.not.match(/^\s+at /m);
  });

  it('takes 8 connections at once, no more, and closes one whose headers do not come within 5 s', async function () {
    this.timeout(15_000);
    const open = (data = '') => new Promise<{ closedAfterMs: Promise<number>; socket: Socket }>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        const t0 = Date.now();
        if (data) socket.write(data);
        resolve({ socket, closedAfterMs: new Promise((r) => socket.once('close', () => r(Date.now() - t0))) });
      });
      socket.on('error', () => undefined);
      socket.resume(); // what the server answers (a 408) is read, so that its close is seen
    });
    const slow = await open('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // never finishes its headers
    const idle = await Promise.all(Array.from({ length: 7 }, () => open()));
    const ninth = await open();
    expect(await Promise.race([ninth.closedAfterMs, sleep(1000).then(() => -1)]), 'the ninth is closed at once').to.be.within(0, 999);
    for (const c of idle) c.socket.destroy();
    await sleep(100);
    const mid = await get('/metrics');
    expect(mid.status).to.equal(200);
    expect(await slow.closedAfterMs, 'the slow client closed after the request timeout').to.be.within(4000, 7500);
    const served = (r: { text: string }) => value(r.text, 'socksalp_metrics_requests_total{code="200"}')!;
    expect(served(await get('/metrics')), 'the connections closed were no requests').to.equal(served(mid) + 1);
  });

  it('a port in use is one clear log line, and the endpoint is off', async function () {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const taken = (holder.address() as { port: number }).port;
    const lines: string[] = [];
    const other = new MetricsServer({ ...a, log: (m: string) => lines.push(m) } as unknown as Appliance, { address: 0x7f000001, port: taken });
    try {
      expect(await other.listen()).to.equal(false);
    } finally {
      holder.close();
      other.close();
    }
    expect(lines).to.deep.equal([`metrics: cannot listen on 127.0.0.1:${taken}: the address is in use (EADDRINUSE); running without the metrics endpoint`]);
  });

  it('an error after it listens is not a failure to listen: its own line, logged once, and it goes on serving', async function () {
    const lines: string[] = [];
    const m = new MetricsServer({ ...a, log: (t: string) => lines.push(t) } as unknown as Appliance, { address: 0x7f000001, port: 0 });
    try {
      expect(await m.listen()).to.equal(true);
      const inner = (m as unknown as { server: import('node:http').Server }).server;
      const at = (inner.address() as { port: number }).port;
      for (let i = 0; i < 2; i++) inner.emit('error', Object.assign(new Error('accept failed'), { code: 'EMFILE' }));
      expect(lines).to.deep.equal(['metrics: serving http://127.0.0.1:0/metrics', 'metrics: error on http://127.0.0.1:0/metrics: EMFILE; logged once, the endpoint goes on']);
      const status = await new Promise<number>((resolve, reject) => request({ host: '127.0.0.1', port: at, path: '/metrics', agent: false }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject).end());
      expect(status).to.equal(200);
    } finally {
      m.close();
    }
  });
});

describe('metrics: appliance.ini [metrics]', function () {
  const copy = confCopies();
  /** A copy of conf/ whose appliance.ini ends with `section`. */
  const conf = (section: string) => copy({ 'appliance.ini': appended(section) });

  it('is off by default; listen = ADDRESS:PORT turns it on and check shows it', function () {
    expect(loadConfig(join(REPO, 'conf')).metrics).to.equal(undefined);
    const c = loadConfig(conf('[metrics]\nlisten = 198.18.0.1:9130\n'));
    expect(c.metrics).to.deep.equal({ address: 0xc6120001, port: 9130 });
    expect(summarizeConfig(c)).to.match(/^ {2}metrics +listen 198\.18\.0\.1:9130 \(GET \/metrics\)$/m);
  });

  it('refuses a bad address, an empty value and unknown keys, naming file, section and key', function () {
    const lines = readFileSync(join(REPO, 'conf', 'appliance.ini'), 'utf8').split('\n').length;
    expect(configProblems(conf('[metrics]\nlisten = 198.18.0.1\ncolour = red\n'))).to.deep.equal([
      `appliance.ini:${lines + 2}: [metrics] listen: expected ADDRESS:PORT like 198.18.0.1:9130, got "198.18.0.1"`,
      `appliance.ini:${lines + 3}: [metrics] colour: unknown key (expected one of: listen)`,
    ]);
    expect(configProblems(conf('[metrics]\nlisten = 198.18.0.1:70000\n'))[0]).to.match(/\[metrics\] listen: expected ADDRESS:PORT/);
    expect(configProblems(conf('[metrics]\nlisten =\n'))[0]).to.match(/\[metrics\] listen: value is empty$/);
  });
});
