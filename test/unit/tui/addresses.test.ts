import { expect } from 'chai';
import { formatAddressPort, parseAddress } from '../../../appliance/addr/address';
import type { ConnRow, ServerRow } from '../../../appliance/control/snapshot';
import { fitEndpoint } from '../../../appliance/text/units';
import { DashboardModel } from '../../../tui/model';
import { connectionsPanel, destinationCell, renderOnce, serversPanel } from '../../../tui/panels';

/** An endpoint as the control socket writes it (control/snapshot.ts): formatAddressPort of an address number. */
const endpoint = (address: string, port: number) => formatAddressPort(parseAddress(address)!, port);

/** The longest IPv6 endpoint in 2001:db8::/32: seven more groups of four digits, brackets, a five-digit port (46 columns). */
const LONGEST = endpoint('2001:0db8:1234:5678:9abc:def0:4321:8765', 40001);

function server(name: string, address: string): ServerRow {
  return {
    name, address, tap: `alp-${name}`, capacity: 100, alps: ['ALL'], divertedTo: '', state: 'up', check: undefined, active: 1,
    packetsIn: 10, bytesIn: 1000, packetsOut: 12, bytesOut: 2000, queue: 0, queueLimit: 4096, discards: {},
    load: { connectionsPerSecond: 0.5, replyP50: 1.2, replyP99: 3.4, failures: 0 },
  } as unknown as ServerRow;
}

function conn(client: string, destination: string, diverted = ''): ConnRow {
  return {
    client, alp: 'http', destination, diverted, server: 'sa6', port: 50001, state: 'spliced', dialect: '5', age: 65, idle: 2,
    bytesIn: 1500, bytesOut: 900_000, packetsIn: 10, packetsOut: 700, handshakeMs: 0.4, replyMs: 1.1, rttClientMs: 0.2, rttServerMs: 0.3,
    throughput: 14_000, retransIn: 0, retransOut: 1,
  } as ConnRow;
}

/** A dual-stack appliance as the dashboard sees it: an IPv4 and an IPv6 server, clients of both families. */
function model(): DashboardModel {
  const m = new DashboardModel('/nowhere');
  m.servers = [server('sa', endpoint('198.19.1.2', 1080)), server('sa6', endpoint('2001:db8:19:1::2', 1080)), server('sl', LONGEST)];
  m.conns = [
    conn(endpoint('198.18.0.2', 40000), '203.0.113.80:80'),
    conn(endpoint('2001:db8:18::2', 40001), '[2001:db8:80::80]:8080'),
    conn(LONGEST, 'web.test:80', '[2001:db8:80::80]:8080'),
  ];
  m.connsMatched = m.connsTotal = 3;
  return m;
}

describe('tui: IPv6 addresses in the columns that show addresses', function () {
  it('shows bracketed IPv6 endpoints whole (RFC 5952 text) where the terminal is wide enough', function () {
    expect(LONGEST).to.equal('[2001:db8:1234:5678:9abc:def0:4321:8765]:40001');
    expect(LONGEST).to.have.length(46);
    const m = model();
    const servers = serversPanel(m, 220).join('\n');
    for (const s of m.servers) expect(servers).to.match(new RegExp(`^${s.name} +${s.address.replace(/[[\].]/g, '\\$&')}  `, 'm'));
    const conns = connectionsPanel(m, 240, 10);
    expect(conns[0]).to.match(/^CLIENT +ALP +DESTINATION/);
    expect(conns[1].startsWith('198.18.0.2:40000 ')).to.equal(true);
    expect(conns[2].startsWith('[2001:db8:18::2]:40001 ')).to.equal(true);
    expect(conns[3].startsWith(`${LONGEST}  http  `)).to.equal(true);
    expect(conns[2]).to.include(' [2001:db8:80::80]:8080 ');
    expect(conns[3]).to.include(' web.test:80->[2001:db8:80::80]:8080 ');
    // Columns line up: the ALP column starts at the same place on every row.
    const at = conns[0].indexOf('ALP');
    for (const line of conns.slice(1, 4)) expect(line.slice(at, at + 5)).to.equal('http ');
  });

  it('in a narrow terminal drops the least needed columns first, then cuts the middle of an IPv6 address, keeping its port', function () {
    const m = model();
    const lines = connectionsPanel(m, 100, 10);
    for (const l of lines) expect(l.length, l).to.be.at.most(100);
    expect(lines[0]).to.not.include('RETX');
    const client = lines[3].split(/\s+/)[0];
    expect(client).to.equal('[2001:~:4321:8765]:40001');
    expect(client.length).to.be.below(LONGEST.length);
    expect(lines[1].split(/\s+/)[0], 'an IPv4 client stays whole').to.equal('198.18.0.2:40000');
    expect(lines[2].split(/\s+/)[0], 'a short IPv6 client stays whole').to.equal('[2001:db8:18::2]:40001');
    const servers = serversPanel(m, 80);
    for (const l of servers) expect(l.length, l).to.be.at.most(80);
    expect(servers.join('\n')).to.include('[2001:db8:19:1::2]:1080');
    expect(servers[3]).to.match(/^sl +\[2001:[0-9a-f:]*~[0-9a-f:]*\]:40001 /);
  });

  it('keeps the port, the brackets and both ends of an IPv6 address when it fits one into fewer columns', function () {
    expect(fitEndpoint(LONGEST, 30)).to.equal('[2001:db8:~:4321:8765]:40001');
    expect(fitEndpoint(LONGEST, 24)).to.equal('[2001:~:4321:8765]:40001');
    expect(fitEndpoint(LONGEST, 46)).to.equal(LONGEST);
    expect(fitEndpoint('2001:db8:1234:5678:9abc:def0:4321:8765', 20), 'an address without a port').to.equal('2001:db8:~:4321:8765');
    expect(fitEndpoint('[2001:db8:1234:5678:9abc:def0:4321:8765]', 30), 'brackets without a port').to.equal('[2001:db8:~:def0:4321:8765]');
    expect(fitEndpoint('a-long-host-name.socksalp.test:8080', 20), 'a name loses its end').to.equal('a-long-host-na~:8080');
    expect(fitEndpoint('198.18.0.2:40000', 24)).to.equal('198.18.0.2:40000');
    expect(fitEndpoint(LONGEST, 9), 'too narrow for the port: cut at the end').to.equal('[2001:db~');
  });

  it('fits a diverted destination in 40 columns, the shorter side whole', function () {
    expect(destinationCell('203.0.113.80:8080', 'web.socksalp.test:80')).to.equal('203.0.113.80:8080->web.socksalp.test:80');
    expect(destinationCell('203.0.113.80:80', LONGEST)).to.equal('203.0.113.80:80->[2001:db8:~:8765]:40001');
    expect(destinationCell(LONGEST, LONGEST), 'half each').to.equal('[2001:~:8765]:40001->[2001:~:8765]:40001');
    expect(destinationCell(LONGEST, '')).to.equal('[2001:db8:1234:~:def0:4321:8765]:40001');
  });

  it('prints the IPv6 servers and clients in dash --once', function () {
    const m = model();
    m.pageSize = 3;
    const text = renderOnce(m, 200);
    expect(text).to.include('[2001:db8:19:1::2]:1080');
    expect(text).to.include('[2001:db8:18::2]:40001');
    expect(text).to.include(LONGEST);
  });
});
