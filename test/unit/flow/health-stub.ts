import type { Health } from '../../../appliance/flow/dispatcher';

/**
 * A Health for the flow tests: every server usable, failures recorded as "index: why", the
 * rest of what the flow layer reports ignored. The tests' sinks extend it.
 */
export class HealthStub implements Health {
  /** Health.failed, as `server index: why`. */
  failures: string[] = [];
  usable(): boolean { return true; }
  failed(s: number, why: string): void { this.failures.push(`${s}: ${why}`); }
  succeeded(): void {}
  progressed(): void {}
  checkDown(): void {}
  checkPassed(): void {}
}
