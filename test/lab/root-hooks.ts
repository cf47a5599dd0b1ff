import { execFileSync, spawnSync } from 'node:child_process';
import { labDown, labFacts, labNamespaces, pidsIn, running } from './lab';

/**
 * Mocha root hooks: whatever the suites did, the lab comes down at the end, and the run fails
 * if a namespace, a TAP, a process or the system user of the lab outlived the teardown.
 */
export const mochaHooks = {
  afterAll(this: Mocha.Context): void {
    this.timeout(60_000);
    const pids = pidsIn(labNamespaces());
    labDown();
    const left: string[] = [];
    const namespaces = labNamespaces();
    if (namespaces.length) left.push(`namespaces ${namespaces.join(', ')}`);
    const alive = pids.filter(running);
    if (alive.length) left.push(`processes ${alive.join(', ')}`);
    const taps = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => / (alp[-\w]*|br-s\w+)[:@]/.test(l));
    if (taps.length) left.push(`devices ${taps.map((l) => l.split(':')[1].trim()).join(', ')}`);
    const user = labFacts().LAB_SE_USER;
    if (user && spawnSync('id', ['-u', user]).status === 0) left.push(`user ${user}`);
    if (left.length) throw new Error(`the lab left behind: ${left.join('; ')}`);
  },
};
