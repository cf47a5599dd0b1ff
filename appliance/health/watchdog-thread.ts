import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';

/** How often the counter is looked at. */
const CHECK_MS = 500;

/**
 * The watchdog's thread (watchdog.ts): the counter the event loop bumps four times a second
 * must change within `limitMs`. Time counts only while this thread itself runs on time: a
 * process stopped whole (SIGSTOP, a paused VM) stops this thread too, and must not be ended
 * for it on its return, before its loop had a turn.
 */
const { beat, limitMs } = workerData as { beat: Int32Array; limitMs: number };
let last = Atomics.load(beat, 0);
let stillMs = 0;
let checked = performance.now();

setInterval(() => {
  const now = performance.now();
  const b = Atomics.load(beat, 0);
  if (b !== last || now - checked > 3 * CHECK_MS) stillMs = 0;
  else stillMs += now - checked;
  last = b;
  checked = now;
  if (stillMs < limitMs) return;
  // The loop cannot log or stop in order: this thread writes its line itself and ends the process.
  writeSync(2, `${new Date().toISOString()} socksalp: watchdog: the event loop has not turned for ${Math.round(stillMs / 1000)} s (appliance.ini watchdog_s = ${limitMs / 1000}); ending the process, so that its devices close and its routes are withdrawn\n`);
  process.kill(process.pid, 'SIGKILL');
}, CHECK_MS);
