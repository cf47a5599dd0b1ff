import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDown, labFacts, labNamespaces, REPO } from '../lab/lab';

/** Runs a shell command line in the repository as a user would type it; output merged. */
function sh(line: string, timeout = 300_000): { status: number | null; out: string } {
  const r = spawnSync('bash', ['-c', `${line} 2>&1`], { cwd: REPO, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  return { status: r.status, out: r.stdout ?? '' };
}

/** The lab's own namespaces still there (other suites' namespaces are theirs). */
function labLeft(): string[] {
  const ours = new Set(Object.entries(labFacts()).filter(([k]) => k.endsWith('_NS') || k.startsWith('LAB_NS_')).map(([, v]) => v));
  return labNamespaces().filter((n) => ours.has(n));
}

/** The lines of the README's code blocks. */
function codeLines(readme: string): string[] {
  return [...readme.matchAll(/```\w*\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n'));
}

/** The demo's check lines: "  ok   curl --socks4 ..." or "  FAIL socat ...". */
function checkLines(out: string): string[] {
  return out.split('\n').filter((l) => /^ {2}(ok|FAIL) /.test(l));
}

/**
 * The README's own command lines, run as written: the first command (`npm run lab`) end to
 * end, its `--keep` form with the lines it suggests, and the `socksalp` command the set-up
 * installs. The demo brings the lab up and down itself, so the lab of the other suites is
 * taken down first (they bring it up again when they need it).
 */
describe('README: its command lines work as written', function () {
  this.timeout(600_000);
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');

  before(function () {
    labDown();
  });

  after(function () {
    sh('bash test/lab/lab.sh down');
  });

  it('opens with the two set-up commands', function () {
    const first = /```sh\n(.*)\n(.*)\n```/.exec(readme);
    expect(first, 'the README opens with a sh block').to.not.equal(null);
    expect(first![1]).to.match(/^npm run lab\s/);
    expect(first![2]).to.match(/^npm test\s/);
  });

  it('npm run lab exits 0, every demo line is ok, the dashboard is shown, and no warning is printed', function () {
    const r = sh('npm run lab');
    const lines = checkLines(r.out);
    expect(r.status, r.out).to.equal(0);
    expect(lines, r.out).to.have.length(16);
    for (const l of lines) expect(l, r.out).to.match(/^ {2}ok /);
    expect(r.out).to.include('== Servers ==').and.to.include('== Connections (Socks ALP Connection table) ==');
    expect(r.out.split('\n').filter((l) => /\bwarn(ing)?\b/i.test(l)), 'warnings').to.deep.equal([]);
    expect(labLeft(), 'the demo removes its lab').to.deep.equal([]);
  });

  it('npm run lab -- --keep leaves the appliance running; the lines it suggests work; lab.sh down removes it all', function () {
    const r = sh('npm run lab -- --keep');
    expect(r.status, r.out).to.equal(0);
    for (const l of checkLines(r.out)) expect(l, r.out).to.match(/^ {2}ok /);
    const suggested = r.out.split('\n').filter((l) => /^ {2}(socksalp|ip netns exec|bash) /.test(l)).map((l) => l.replace(/#.*$/, '').trim());
    expect(suggested.length, r.out).to.be.greaterThan(3);
    const list = sh('socksalp ctl --config conf list');
    expect(list.status, list.out).to.equal(0);
    expect(list.out).to.match(/^sa\s+198\.19\.1\.2:1080\s.*\sup\s/m);
    const once = sh('socksalp dash --config conf --once');
    expect(once.status, once.out).to.equal(0);
    expect(once.out).to.include('== Servers ==');
    const curl = suggested.find((l) => l.startsWith('ip netns exec'))!;
    const got = sh(`${curl.replace('-o /dev/null', '')} | sha256sum`);
    expect(got.status, got.out).to.equal(0);
    expect(got.out).to.match(/^[0-9a-f]{64} /);
    expect(sh('bash test/lab/lab.sh env').out).to.include(got.out.slice(0, 64));
    const down = sh(suggested.find((l) => l.startsWith('bash '))!);
    expect(down.status, down.out).to.equal(0);
    expect(labLeft()).to.deep.equal([]);
    const after = sh('socksalp ctl --config conf status');
    expect(after.status, 'no appliance answers once the lab is down').to.not.equal(0);
  });

  it('the set-up installed the socksalp command for this clone, and the README\'s verbs answer --help', function () {
    const which = sh('command -v socksalp && cat "$(command -v socksalp)"');
    expect(which.status, which.out).to.equal(0);
    expect(which.out).to.include(join(REPO, 'dist', 'appliance', 'cli', 'index.js'));
    const verbs = codeLines(readme).map((l) => /^socksalp (\w+) /.exec(l)?.[1]).filter((v): v is string => v !== undefined);
    expect(verbs).to.include.members(['run', 'check', 'ctl', 'dash', 'net']);
    for (const verb of new Set(verbs)) {
      const h = sh(`socksalp ${verb} --help`);
      expect(h.status, `socksalp ${verb} --help: ${h.out}`).to.equal(0);
      expect(h.out).to.match(new RegExp(`^Usage: socksalp ${verb}`));
    }
    const check = sh('socksalp check --config conf');
    expect(check.status, check.out).to.equal(0);
  });
});
