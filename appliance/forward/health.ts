import type { Health } from '../flow/dispatcher';

/**
 * What the appliance knows of each server: resolved by ARP, and whether it recently failed a
 * connection (reset or no answer to the SYN). A failed server is left out of selection for a
 * hold-down time that doubles with each consecutive failure, up to a minute; one connection
 * that gets through clears it.
 */
export class ServerHealth implements Health {
  readonly resolved: boolean[];
  private readonly downUntil: number[];
  private readonly holdDown: number[];
  readonly lastError: (string | undefined)[];
  readonly failures: number[];
  /** The server's TAP has vanished (device-watch.ts): down until it returns. */
  readonly deviceDown: boolean[];
  /** The active check says the server is down (health/checker.ts). */
  readonly checkFailing: boolean[];
  /** When the splice last saw new data from each server (reachability.ts reads it). */
  readonly progressAt: Float64Array;
  now = 0;

  constructor(count: number, private readonly log: (message: string) => void, private readonly names: string[]) {
    this.resolved = new Array<boolean>(count).fill(false);
    this.downUntil = new Array<number>(count).fill(0);
    this.holdDown = new Array<number>(count).fill(0);
    this.lastError = new Array<string | undefined>(count).fill(undefined);
    this.failures = new Array<number>(count).fill(0);
    this.deviceDown = new Array<boolean>(count).fill(false);
    this.progressAt = new Float64Array(count);
    this.checkFailing = new Array<boolean>(count).fill(false);
  }

  checkDown(server: number, down: boolean): void {
    this.checkFailing[server] = down;
    if (!down) this.succeeded(server);
  }

  checkPassed(server: number): void {
    if (this.holdDown[server] !== 0) this.succeeded(server);
  }

  progressed(server: number): void {
    this.progressAt[server] = this.now;
  }

  usable(server: number): boolean {
    return this.resolved[server] && !this.deviceDown[server] && !this.checkFailing[server] && this.now >= this.downUntil[server];
  }

  setDeviceDown(server: number, down: boolean): void {
    this.deviceDown[server] = down;
    // Back with its device: no hold-down left from the connections it lost meanwhile.
    if (!down) this.succeeded(server);
  }

  failing(server: number): boolean {
    return this.now < this.downUntil[server];
  }

  failed(server: number, why: string): void {
    this.failures[server]++;
    this.holdDown[server] = Math.min(60, this.holdDown[server] === 0 ? 2 : this.holdDown[server] * 2);
    this.downUntil[server] = this.now + this.holdDown[server];
    if (this.lastError[server] !== why) this.log(`server ${this.names[server]} ${why}; held down for ${this.holdDown[server]} s`);
    this.lastError[server] = why;
  }

  succeeded(server: number): void {
    if (this.holdDown[server] !== 0) this.log(`server ${this.names[server]} answers again`);
    this.holdDown[server] = 0;
    this.downUntil[server] = 0;
    this.lastError[server] = undefined;
  }
}
