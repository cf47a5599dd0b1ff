import { spawnSync } from 'node:child_process';
import type { Step } from './network-plan';

export interface Applied {
  step: Step;
  skipped: boolean;
}

/** Runs a plan's steps in order; throws at the first one that fails, saying which and why. */
export function applyPlan(steps: Step[]): Applied[] {
  const done: Applied[] = [];
  for (const step of steps) {
    if (step.unless && spawnSync(step.unless[0], step.unless.slice(1), { stdio: 'ignore' }).status === 0) {
      done.push({ step, skipped: true });
      continue;
    }
    const r = spawnSync(step.argv[0], step.argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) {
      const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim();
      throw new Error(`"${step.argv.join(' ')}" failed: ${why}`);
    }
    done.push({ step, skipped: false });
  }
  return done;
}
