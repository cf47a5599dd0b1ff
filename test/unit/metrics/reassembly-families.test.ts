import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { status } from '../../../appliance/control/snapshot';
import { REASSEMBLY_DROPS } from '../../../appliance/forward/reassembly';
import { REASSEMBLY6_DROPS } from '../../../appliance/forward/reassembly6';
import { fakeAppliance, scrape, value } from './fake-appliance';

/** The two reassemblers' counters set apart, so that a count shown in the wrong family shows. */
function busy() {
  const { a } = fakeAppliance();
  const r = a.forwarder.reassembler;
  const r6 = a.forwarder.reassembler6;
  Object.assign(r, { completed: 11, duplicates: 2 });
  Object.assign(r6, { completed: 23, duplicates: 5, atomic: 7 });
  r.drops.overlap = 3;
  r6.drops.overlap = 13;
  r6.drops.unaligned = 17;
  r6.drops['incomplete-chain'] = 19;
  return a;
}

describe('metrics and ctl status: IPv4 and IPv6 reassembly side by side', function () {
  it('labels each reassembly family with family="ipv4" or "ipv6", IPv6 with its own drop reasons and atomic fragments', function () {
    const text = scrape(busy());
    expect(value(text, 'socksalp_reassembly_datagrams_total{family="ipv4"}')).to.equal(11);
    expect(value(text, 'socksalp_reassembly_datagrams_total{family="ipv6"}')).to.equal(23);
    expect(value(text, 'socksalp_reassembly_duplicates_total{family="ipv4"}')).to.equal(2);
    expect(value(text, 'socksalp_reassembly_duplicates_total{family="ipv6"}')).to.equal(5);
    expect(value(text, 'socksalp_reassembly_atomic_fragments_total{family="ipv6"}')).to.equal(7);
    expect(value(text, 'socksalp_reassembly_drops_total{family="ipv4",reason="overlap"}')).to.equal(3);
    expect(value(text, 'socksalp_reassembly_drops_total{family="ipv6",reason="overlap"}')).to.equal(13);
    expect(value(text, 'socksalp_reassembly_drops_total{family="ipv6",reason="unaligned"}')).to.equal(17);
    expect(value(text, 'socksalp_reassembly_drops_total{family="ipv6",reason="incomplete-chain"}')).to.equal(19);
    expect(value(text, 'socksalp_reassembly_drops_total{family="ipv4",reason="unaligned"}'), 'no IPv6-only reason in IPv4').to.equal(undefined);
    expect(value(text, 'socksalp_reassembly_pending{family="ipv4"}')).to.equal(0);
    expect(value(text, 'socksalp_reassembly_pending{family="ipv6"}')).to.equal(0);
    expect(text.match(/^socksalp_reassembly_drops_total\{/gm)).to.have.length(REASSEMBLY_DROPS.length + REASSEMBLY6_DROPS.length);
    expect(text, 'no sample without its family').to.not.match(/^socksalp_reassembly_[a-z_]+ /m);
  });

  it('passes promtool check metrics', function () {
    if (spawnSync('promtool', ['--version']).error) this.skip(); // test/lab/setup-host.sh installs it
    const r = spawnSync('promtool', ['check', 'metrics'], { input: scrape(busy()), encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect((r.stdout + r.stderr).trim()).to.equal('');
  });

  it('ctl status has reassembly6 next to reassembly, with the atomic fragments', function () {
    const st = status(busy());
    expect(st.reassembly).to.deep.include({ completed: 11, duplicates: 2, pending: 0 });
    expect(st.reassembly6).to.deep.include({ completed: 23, duplicates: 5, atomic: 7, pending: 0 });
    expect(Object.keys(st.reassembly6.drops)).to.deep.equal([...REASSEMBLY6_DROPS]);
    expect(st.reassembly6.drops).to.include({ overlap: 13, unaligned: 17, 'incomplete-chain': 19 });
    expect(st.reassembly.drops.overlap).to.equal(3);
  });
});
