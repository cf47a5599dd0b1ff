import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Step } from './network-plan';

export interface Applied {
  step: Step;
  skipped: boolean;
}

export interface Outcome {
  done: Applied[];
  /** One line per NIC the INI files name but the host lacks; its steps were left out. */
  missing: string[];
}

/**
 * Runs a plan's steps in order; throws at the first one that fails, saying which and why.
 * A NIC that is not there (a VM given fewer adapters than the files name) is an expected
 * event: its steps are left out, it is reported once, and the rest of the plan still applies.
 */
export function applyPlan(steps: Step[]): Outcome {
  const done: Applied[] = [];
  const missing = new Map<string, string>();
  for (const step of steps) {
    if (step.nic && (missing.has(step.nic.name) || !existsSync(`/sys/class/net/${step.nic.name}`))) {
      missing.set(step.nic.name, `${step.nic.where} ${step.nic.name}: no such device; left out until it exists and the configuration is reloaded`);
      continue;
    }
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
  return { done, missing: [...missing.values()] };
}
