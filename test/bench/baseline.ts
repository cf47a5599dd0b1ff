import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../lab/lab';

/**
 * `bench --base COMMIT`: the appliance as it was at COMMIT, built from this clone's history in
 * a detached worktree of its own (this clone's node_modules and native addon lent to it), so
 * that what a change costs is measured in the same run as the change. Returns its CLI and a
 * function that removes the worktree.
 */
export function buildBaseline(commit: string): { cli: string; name: string; remove: () => void } {
  const rev = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', `${commit}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = join('/tmp', `socksalp-bench-base-${rev}`);
  const remove = () => {
    spawnSync('git', ['-C', REPO, 'worktree', 'remove', '--force', dir]);
    rmSync(dir, { recursive: true, force: true });
  };
  remove();
  execFileSync('git', ['-C', REPO, 'worktree', 'add', '--detach', dir, rev], { stdio: 'ignore' });
  try {
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    if (existsSync(join(REPO, 'build', 'Release'))) cpSync(join(REPO, 'build', 'Release'), join(dir, 'build', 'Release'), { recursive: true });
    execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
  } catch (e) {
    remove();
    throw new Error(`cannot build the baseline ${commit}: ${(e as Error).message}`);
  }
  return { cli: join(dir, 'dist', 'appliance', 'cli', 'index.js'), name: rev, remove };
}
