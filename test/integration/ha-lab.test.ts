import { expect } from 'chai';
import type { ApplianceProcess } from '../lab/appliance-process';
import { curlSha256, labFacts, normalLab, useLab, type LabFacts } from '../lab/lab';
import { haLab, healthOf, intraAddresses, keepalivedLogs as haKeepalivedLogs, pairMember, until, type Health } from '../lab/ha';

const health = new Map<ApplianceProcess, Health>();
const healthOfKept = (app: ApplianceProcess) => health.get(app);
/** `ctl health`'s answer (keepalived's track_script asks the same), kept for healthOfKept. */
async function poll(app: ApplianceProcess): Promise<void> {
  const h = await healthOf(app);
  if (h === undefined) health.delete(app); // not listening yet
  else health.set(app, h);
}
const pollAll = async (...apps: ApplianceProcess[]) => {
  for (const app of apps) await poll(app);
};

/**
 * Issue 16's HA pair in the lab (lab.sh ha): two real appliances, A in salab-app and B in
 * salab-app2, each with its keepalived (its keepalived.conf from `socksalp keepalived`). The
 * shared next hop 198.18.0.1 lands on A (priority 150), a download from the client through the
 * VIP is whole, and when A's keepalived stops, the address moves to B and a download is whole
 * again, through B. `ha down` then gives the normal lab back, as the suites after this one need it.
 */
describe('ha-lab: the HA pair\'s topology, keepalived moving the next hop', function () {
  this.timeout(120_000);
  let facts: LabFacts;
  let normal = '';
  const apps: ApplianceProcess[] = [];
  let a: ApplianceProcess;
  let b: ApplianceProcess;

  before(async function () {
    useLab();
    normal = normalLab();
    haLab('up');
    facts = labFacts();
    expect(facts.LAB_HA).to.equal('up');
    a = pairMember(facts, 'a');
    apps.push(a);
    b = pairMember(facts, 'b');
    apps.push(b);
    // Both start as backups (ha.ini's default role), which resolve no server: ready once healthy.
    for (const app of apps) await until('the appliance healthy', () => app.exited !== null || healthOfKept(app)?.ok === true, 10_000, () => poll(app));
    for (const app of apps) if (app.exited !== null) throw new Error(`the appliance exited (${app.exited}):\n${app.output}`);
    haLab('keepalived-start', 'a');
    haLab('keepalived-start', 'b');
  });

  /** keepalived first (its notify scripts talk to the appliances), then each appliance still running, checked as it ends. */
  async function stopAll(): Promise<void> {
    const problems: string[] = [];
    for (const name of ['a', 'b']) {
      try { haLab('keepalived-stop', name); } catch (e) { problems.push(String(e)); }
    }
    for (const app of apps.splice(0)) {
      try { await app.finish(); } catch (e) { problems.push((e as Error).message); }
    }
    if (problems.length) throw new Error(problems.join('\n'));
  }

  after(async function () {
    try {
      await stopAll();
    } finally {
      haLab('down');
    }
  });

  const download = async () => curlSha256(facts.LAB_NS_CLIENT, ['--socks5', `${facts.LAB_VIP}:1080`, `http://${facts.LAB_WEB_ADDR}/big.bin`]);
  const keepalivedLogs = () => haKeepalivedLogs(facts);

  it('puts the shared addresses on A, the higher priority, and carries a download through A', async function () {
    const shared = [`${facts.LAB_HA_SHARED}/24`, `${facts.LAB_HA_SHARED6}/64`];
    // Three advertisement intervals and the skew (RFC 5798 6.4.2), then A's first adverts.
    await until('198.18.0.1 and 2001:db8:18::1 on A', () => shared.every((s) => intraAddresses(facts.LAB_HA_A_NS).includes(s)), 10_000)
      .catch((e: Error) => { throw new Error(`${e.message}\n${keepalivedLogs()}`); });
    expect(intraAddresses(facts.LAB_HA_B_NS)).to.deep.equal([`${facts.LAB_HA_B_ADDRESS}/24`, `${facts.LAB_HA_B_ADDRESS6}/64`]);
    // keepalived's notify_master made A master (`ctl role master`); B stayed backup.
    await until('A master, B backup', () => healthOfKept(a)?.role === 'master' && healthOfKept(b)?.role === 'backup', 5_000, () => pollAll(a, b));
    await a.ready();
    const d = await download();
    expect(d.sha256, d.stderr).to.equal(facts.LAB_BIG_SHA256);
  });

  it('moves them to B within a few seconds once A\'s keepalived stops, and B carries the next download', async function () {
    haLab('keepalived-stop', 'a');
    const ms = await until('198.18.0.1 on B', () => intraAddresses(facts.LAB_HA_B_NS).includes(`${facts.LAB_HA_SHARED}/24`), 5_000)
      .catch((e: Error) => { throw new Error(`${e.message}\n${keepalivedLogs()}`); });
    console.log(`      198.18.0.1 on B ${ms} ms after A's keepalived stopped`);
    expect(intraAddresses(facts.LAB_HA_A_NS)).to.deep.equal([`${facts.LAB_HA_A_ADDRESS}/24`, `${facts.LAB_HA_A_ADDRESS6}/64`]);
    // B's notify_master, and A's notify_stop (a stopped keepalived leaves no master behind it).
    await until('B master, A backup', () => healthOfKept(b)?.role === 'master' && healthOfKept(a)?.role === 'backup', 5_000, () => pollAll(a, b));
    await b.ready();
    const d = await download();
    expect(d.sha256, d.stderr).to.equal(facts.LAB_BIG_SHA256);
  });

  it('ha down gives the normal lab back, and ha down again changes nothing', async function () {
    await stopAll();
    haLab('down');
    expect(normalLab()).to.equal(normal);
    expect(labFacts().LAB_HA).to.equal(undefined);
    haLab('down');
    expect(normalLab()).to.equal(normal);
  });
});
