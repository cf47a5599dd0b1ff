import { expect } from 'chai';
import { CaptureSwitch } from '../../../appliance/capture/capture-switch';
import type { CaptureSettings } from '../../../appliance/config/capture-ini';

const A: CaptureSettings = { drops: '/tmp/a.pcapng', maxBytes: 1 << 20, snaplen: 256 };
const B: CaptureSettings = { drops: '/tmp/a.pcapng', maxBytes: 2 << 20, snaplen: 256 };

/** A ring whose close the test finishes, and a log of what happened to the rings, in order. */
class Ring {
  static events: string[] = [];
  finish: () => void = () => undefined;
  constructor(readonly settings: CaptureSettings, readonly name: string) {}
  start(): void {
    Ring.events.push(`start ${this.name}`);
  }
  close(): Promise<void> {
    Ring.events.push(`close ${this.name}`);
    return new Promise((resolve) => {
      this.finish = () => {
        Ring.events.push(`closed ${this.name}`);
        resolve();
      };
    });
  }
}

/** Lets every callback of settled promises run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function harness() {
  Ring.events = [];
  const rings: Ring[] = [];
  const t = {
    installed: undefined as Ring | undefined,
    rings,
    sw: new CaptureSwitch<Ring>(
      (s) => {
        const r = new Ring(s, `${s === A ? 'A' : 'B'}${rings.length}`);
        rings.push(r);
        return r;
      },
      (c) => { t.installed = c; },
    ),
  };
  return t;
}

describe('capture/capture-switch: which drop ring runs across reloads and the stop', function () {
  it('at start opens at once; the same settings again change nothing; a change opens the next ring once the old one is closed', async function () {
    const t = harness();
    t.sw.set(A);
    expect(t.installed?.name).to.equal('A0');
    t.sw.set({ ...A });
    expect(Ring.events).to.deep.equal(['start A0']);
    t.sw.set(B);
    expect(t.installed, 'drops meanwhile are not captured').to.equal(undefined);
    await settle();
    expect(Ring.events, 'the next ring waits for the close').to.deep.equal(['start A0', 'close A0']);
    t.rings[0].finish();
    await settle();
    expect(Ring.events).to.deep.equal(['start A0', 'close A0', 'closed A0', 'start B1']);
    expect(t.installed?.name).to.equal('B1');
  });

  it('change then off before the close is done: nothing opens', async function () {
    const t = harness();
    t.sw.set(A);
    t.sw.set(B);
    t.sw.set(undefined);
    t.rings[0].finish();
    await settle();
    expect(Ring.events).to.deep.equal(['start A0', 'close A0', 'closed A0']);
    expect(t.installed).to.equal(undefined);
  });

  it('the same change twice before the close is done: one ring opens', async function () {
    const t = harness();
    t.sw.set(A);
    t.sw.set(B);
    t.sw.set({ ...B });
    t.rings[0].finish();
    await settle();
    expect(Ring.events).to.deep.equal(['start A0', 'close A0', 'closed A0', 'start B1']);
    expect(t.rings.length).to.equal(2);
  });

  it('change and change back before the close is done: the last one asked for opens, after the close', async function () {
    const t = harness();
    t.sw.set(A);
    t.sw.set(B);
    t.sw.set(A);
    t.rings[0].finish();
    await settle();
    expect(Ring.events).to.deep.equal(['start A0', 'close A0', 'closed A0', 'start A1']);
    expect(t.installed?.name).to.equal('A1');
  });

  it('a change and back while a ring runs: it is closed, and a fresh one opens once it is', async function () {
    const t = harness();
    t.sw.set(A);
    t.sw.set(B);
    t.rings[0].finish();
    await settle();
    t.sw.set(A);
    t.sw.set(B);
    await settle();
    expect(Ring.events.slice(4)).to.deep.equal(['close B1']);
    t.rings[1].finish();
    await settle();
    expect(Ring.events.slice(4)).to.deep.equal(['close B1', 'closed B1', 'start B2']);
    expect(t.installed?.name).to.equal('B2');
  });

  it('the stop during a switch waits for the close in flight, and no ring opens after it', async function () {
    const t = harness();
    t.sw.set(A);
    t.sw.set(B);
    let stopped = false;
    const stop = t.sw.close(60_000).then(() => { stopped = true; });
    await settle();
    expect(stopped, 'not before the old ring is closed').to.equal(false);
    t.rings[0].finish();
    await stop;
    await settle();
    expect(Ring.events).to.deep.equal(['start A0', 'close A0', 'closed A0']);
    expect(t.installed).to.equal(undefined);
  });

  it('the stop closes the running ring, and gives up waiting after its limit', async function () {
    const t = harness();
    await t.sw.close(10);
    expect(Ring.events, 'nothing to close when off').to.deep.equal([]);
    t.sw.set(A);
    const started = Date.now();
    await t.sw.close(50);
    expect(Date.now() - started).to.be.within(40, 2000);
    expect(Ring.events).to.deep.equal(['start A0', 'close A0']);
    expect(t.installed).to.equal(undefined);
  });
});
