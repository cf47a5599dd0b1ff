import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Appliance } from '../appliance';
import { formatIpv4 } from '../config/address';
import type { MetricsSettings } from '../config/metrics-ini';
import { CONTENT_TYPE, Exposition } from './exposition';
import { writeMetrics } from './metrics';

/** Scrapers at once: Prometheus keeps one connection per target; a few more for people with curl. */
const MAX_CLIENTS = 8;
/** A request's headers must be in within this; a connection idle this long is closed. */
const REQUEST_MS = 5000;
const IDLE_MS = 10_000;
const MAX_HEADERS = 8192;

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the address is in use',
  EADDRNOTAVAIL: "the address is not one of this host's",
  EACCES: 'permission denied',
};

/**
 * The Prometheus endpoint (appliance.ini [metrics] listen): `GET /metrics` answers the text
 * exposition format (metrics.ts), built on request on the appliance's own event loop from
 * counters it keeps anyway, so a scrape costs O(servers x ALPs) and never touches the data
 * path's tables. Bounded: at most MAX_CLIENTS connections, headers within REQUEST_MS, idle
 * connections closed after IDLE_MS, no request body accepted; other paths 404, other methods
 * 405. Answers never carry a stack; a failure to render is a 500, counted and logged once.
 */
export class MetricsServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Answers by status code, exported as socksalp_metrics_requests_total{code}. */
  private readonly answered = new Map<number, number>();
  private renderFailed = false;
  private runtimeFailed = false;

  constructor(private readonly appliance: Appliance, private readonly settings: MetricsSettings) {}

  get where(): string {
    return `${formatIpv4(this.settings.address)}:${this.settings.port}`;
  }

  /** True once listening; false after one log line saying why not (the appliance runs on without it). */
  async listen(): Promise<boolean> {
    // Node checks the request timeouts every connectionsCheckingInterval (30 s by default).
    const server = createServer(
      { maxHeaderSize: MAX_HEADERS, requestTimeout: REQUEST_MS, headersTimeout: REQUEST_MS, keepAliveTimeout: IDLE_MS, connectionsCheckingInterval: 1000 },
      (req, res) => this.answer(req, res),
    );
    server.maxConnections = MAX_CLIENTS;
    server.setTimeout(IDLE_MS, (s: Socket) => s.destroy());
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    const ok = await new Promise<boolean>((resolve) => {
      const refused = (e: NodeJS.ErrnoException) => {
        const why = (e.code && LISTEN_ERRORS[e.code]) ?? e.message;
        this.appliance.log(`metrics: cannot listen on ${this.where}: ${why}${e.code ? ` (${e.code})` : ''}; running without the metrics endpoint`);
        resolve(false);
      };
      server.once('error', refused);
      server.listen({ host: formatIpv4(this.settings.address), port: this.settings.port }, () => {
        server.off('error', refused);
        resolve(true);
      });
    });
    if (!ok) return false;
    // A later error (an accept that failed: out of descriptors) leaves the server listening.
    server.on('error', (e: NodeJS.ErrnoException) => this.failed(e));
    this.server = server;
    this.appliance.log(`metrics: serving http://${this.where}/metrics`);
    return true;
  }

  private failed(e: NodeJS.ErrnoException): void {
    if (this.runtimeFailed) return;
    this.runtimeFailed = true;
    this.appliance.log(`metrics: error on http://${this.where}/metrics: ${e.code ?? e.message}; logged once, the endpoint goes on`);
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return this.reply(res, 404, 'not found: the metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.reply(res, 405, 'method not allowed: GET /metrics\n');
    }
    // A scrape has no body; one announced is refused, and the connection closed unread.
    if ((req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined) {
      res.setHeader('Connection', 'close');
      return this.reply(res, 413, 'a scrape takes no request body\n');
    }
    let body: string;
    try {
      const x = new Exposition();
      writeMetrics(x, this.appliance);
      this.own(x);
      body = x.text();
    } catch (e) {
      if (!this.renderFailed) this.appliance.log(`metrics: internal error rendering the metrics (counted in socksalp_metrics_requests_total{code="500"}, logged once): ${(e as Error)?.message ?? String(e)}`);
      this.renderFailed = true;
      return this.reply(res, 500, 'internal error\n');
    }
    this.count(200);
    res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private reply(res: ServerResponse, code: number, text: string): void {
    this.count(code);
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private count(code: number): void {
    this.answered.set(code, (this.answered.get(code) ?? 0) + 1);
  }

  /** The endpoint's own figures; this scrape's 200 is counted once it is sent, so it is not in them yet. */
  private own(x: Exposition): void {
    x.family('socksalp_metrics_requests_total', 'counter', 'Requests to the metrics endpoint answered, by HTTP status code.');
    for (const [code, n] of [...this.answered].sort((p, q) => p[0] - q[0])) x.sample([['code', String(code)]], n);
  }

  /** Stops listening and closes every connection (SIGTERM). */
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server?.close();
    this.server = undefined;
  }
}
