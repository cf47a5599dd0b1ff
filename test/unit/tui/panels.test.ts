import { expect } from 'chai';
import type { Status } from '../../../appliance/control/snapshot';
import { REASSEMBLY_DROPS } from '../../../appliance/forward/reassembly';
import { DashboardModel } from '../../../tui/model';
import { throughputPanel } from '../../../tui/panels';

describe('tui: throughput panel', function () {
  const model = (reassembly?: Status['reassembly']) => {
    const m = new DashboardModel('/nowhere');
    if (reassembly) m.status = { reassembly } as Status;
    return m;
  };
  const zero = () => Object.fromEntries(REASSEMBLY_DROPS.map((r) => [r, 0])) as Status['reassembly']['drops'];

  it('shows reassembly: completed, pending, dropped, by reason only when not zero', function () {
    const quiet = throughputPanel(model({ completed: 12, pending: 1, duplicates: 0, drops: zero() }), 120);
    expect(quiet.at(-1)).to.equal('reassembly     12 done, 1 pending, 0 dropped');
    const drops = { ...zero(), overlap: 3, timeout: 2, 'over-cap': 1500 };
    const busy = throughputPanel(model({ completed: 12_345, pending: 40, duplicates: 2, drops }), 120);
    expect(busy.at(-1)).to.equal('reassembly     12.3K done, 40 pending, 1.5K dropped (overlap 3, timeout 2, over-cap 1.5K), 2 dup');
  });

  it('leaves the line out before the first answer', function () {
    expect(throughputPanel(model(), 120).some((l) => l.startsWith('reassembly'))).to.equal(false);
  });
});
