import type { CaptureSettings } from '../config/capture-ini';

/** What the switch needs of a ring (DropCapture): its settings, a start and a close that never rejects. */
export interface SwitchedCapture {
  readonly settings: CaptureSettings;
  start(): void;
  close(): Promise<void>;
}

/**
 * Which drop ring runs, across reloads and the stop. A changed [capture] closes the running
 * ring (it writes what it holds) before the next one opens, since both may name one file;
 * drops meanwhile are counted, not captured. Reloads may come faster than a close: the
 * settings last asked for are kept with a generation number, and a ring opens only for the
 * generation still wanted when the closes before it are done, so that change-then-off opens
 * nothing, a change asked twice opens one ring, and nothing opens after the stop.
 */
export class CaptureSwitch<C extends SwitchedCapture> {
  private wanted: CaptureSettings | undefined;
  private generation = 0;
  private running: C | undefined;
  /** The close of the ring taken out, while in flight (one at most: a ring opens only after it). */
  private closing: Promise<void> | undefined;

  /** `open` makes a ring (not started); `install` hands the data path the running one, or none. */
  constructor(
    private readonly open: (settings: CaptureSettings) => C,
    private readonly install: (capture: C | undefined) => void,
  ) {}

  /** [capture] at start and at each reload (undefined: off). */
  set(next: CaptureSettings | undefined): void {
    if (sameCapture(this.wanted, next)) return;
    this.wanted = next;
    const generation = ++this.generation;
    this.takeOut();
    const closing = this.closing;
    if (closing === undefined) this.begin(generation);
    else void closing.then(() => this.begin(generation));
  }

  /** The stop: closes the running ring, or waits for the close in flight; `limitMs` at most. */
  close(limitMs: number): Promise<void> {
    this.wanted = undefined;
    this.generation++;
    this.takeOut();
    const closing = this.closing;
    if (closing === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      setTimeout(resolve, limitMs).unref();
      void closing.then(resolve);
    });
  }

  private takeOut(): void {
    const old = this.running;
    if (old === undefined) return;
    this.running = undefined;
    this.install(undefined);
    const closing: Promise<void> = old.close().then(() => {
      if (this.closing === closing) this.closing = undefined;
    });
    this.closing = closing;
  }

  private begin(generation: number): void {
    if (generation !== this.generation || this.wanted === undefined) return;
    const c = this.open(this.wanted);
    c.start();
    this.running = c;
    this.install(c);
  }
}

function sameCapture(a: CaptureSettings | undefined, b: CaptureSettings | undefined): boolean {
  return a?.drops === b?.drops && a?.maxBytes === b?.maxBytes && a?.snaplen === b?.snaplen;
}
