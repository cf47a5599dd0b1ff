import { expect } from 'chai';
import { join } from 'node:path';
import { loadConfig } from '../../appliance/config/load';
import { parseIpv4 } from '../../appliance/config/address';
import { REPO } from '../lab/lab';

describe('config: the lab defaults in conf/', function () {
  const c = loadConfig(join(REPO, 'conf'));

  it('reads the appliance settings', function () {
    expect(c.appliance.socksPort).to.equal(1080);
    expect(c.appliance.idleTimeout).to.equal(300);
    expect(c.appliance.maxConnections).to.equal(200000);
    expect(c.appliance.controlSocket).to.equal('/run/socksalp/control.sock');
    expect(c.intranet.tun).to.equal('alp0');
    expect(c.intranet.vips).to.deep.equal([parseIpv4('198.18.0.100')]);
  });

  it('orders capacity_for_priority from the highest priority down', function () {
    expect(c.capacityForPriority).to.deep.equal([
      { priority: 7, capacity: 10 },
      { priority: 4, capacity: 5 },
      { priority: 0, capacity: 0 },
    ]);
  });

  it('builds the Socks ALP Configuration table with its default record', function () {
    const http = c.alps.records.find((r) => r.name === 'http')!;
    expect(http).to.deep.equal({ name: 'http', ports: [80, 8080], priority: 7, discardEligible: false });
    expect(c.alps.fallback.priority).to.equal(4);
    expect(c.alps.fallback.discardEligible).to.equal(true);
  });

  it('builds the Socks Server ALP Configuration table', function () {
    expect(c.servers.map((s) => s.name)).to.deep.equal(['sa', 'sb', 'sc', 'sd']);
    const sa = c.servers[0];
    expect(sa.address).to.equal(parseIpv4('198.19.1.2'));
    expect(sa.local).to.deep.equal({ address: parseIpv4('198.19.1.1'), length: 24 });
    expect(sa.capacity).to.equal(15);
    expect(sa.isDefault).to.equal(true);
    expect(sa.mac).to.equal(undefined);
    expect(c.servers[2].versions).to.deep.equal(['5']);
    expect(c.servers[3].versions).to.deep.equal(['4', '4a', '5']);
    expect(c.servers[1].alps).to.deep.equal({ all: false, names: ['ftp', 'gopher', 'telnet'] });
  });
});
