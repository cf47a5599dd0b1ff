import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The message authentication of the network monitor's channel (the network-management
 * patent's port 213). One message is one line of JSON:
 *   {"msg": "<the request, itself JSON, as a string>", "ts": <unix seconds>,
 *    "nonce": "<hex, 16 to 64 digits>", "mac": "<hex HMAC-SHA256(key, ts + "\n" + nonce + "\n" + msg)>"}
 * Only Node's crypto: HMAC-SHA256, compared with timingSafeEqual.
 */

/** Longest line accepted; a connection sending a longer one is closed without reading more. */
export const MAX_MESSAGE = 8 * 1024;

export const REFUSALS = ['mac', 'stale', 'replay', 'oversized', 'rate', 'malformed'] as const;
export type Refusal = (typeof REFUSALS)[number];

export interface MonitorPolicy {
  key: Buffer;
  /** Seconds |now - ts| may reach. */
  maxSkew: number;
  /** Messages per second per sender address. */
  rate: number;
}

export interface Refused {
  ok: false;
  reason: Refusal;
  error: string;
  /** Beyond 4x the rate, or oversized: the connection is closed. */
  close: boolean;
}

export type Verdict = { ok: true; request: Record<string, unknown> } | Refused;

/** Nonces remembered at most (each for 2 * max_skew); beyond, new messages are refused as rate. */
const MAX_NONCES = 100_000;
/** Senders whose rate is tracked at most; the oldest windows go first. */
const MAX_SENDERS = 10_000;

/** The text a MAC covers. */
export function macInput(ts: number, nonce: string, msg: string): string {
  return `${ts}\n${nonce}\n${msg}`;
}

export function computeMac(key: Buffer, ts: number, nonce: string, msg: string): string {
  return createHmac('sha256', key).update(macInput(ts, nonce, msg), 'utf8').digest('hex');
}

/** A signed line (without its newline) carrying `request`, as the CLI sends it. */
export function signMessage(key: Buffer, request: object, ts = Math.floor(Date.now() / 1000), nonce?: string): string {
  const msg = JSON.stringify(request);
  const n = nonce ?? randomBytes(16).toString('hex');
  return JSON.stringify({ msg, ts, nonce: n, mac: computeMac(key, ts, n, msg) });
}

/**
 * Checks messages in order: the sender's rate, the form, the MAC, the timestamp, the nonce.
 * Counts what it accepts and what it refuses, by reason. Memory is bounded: nonces expire
 * after 2 * max_skew (and are capped), rate windows last a second (and are capped).
 */
export class MonitorAuth {
  accepted = 0;
  readonly refused: Record<Refusal, number> = { mac: 0, stale: 0, replay: 0, oversized: 0, rate: 0, malformed: 0 };
  /** nonce -> when it may be forgotten (seconds). Insertion order is expiry order for a fixed skew. */
  private readonly nonces = new Map<string, number>();
  /** sender -> [window start (ms), messages in it]. */
  private readonly windows = new Map<string, [number, number]>();

  constructor(private readonly policy: () => MonitorPolicy) {}

  /** A refusal counted (the server's own: oversized). */
  refuse(reason: Refusal, error: string, close: boolean): Refused {
    this.refused[reason]++;
    return { ok: false, reason, error, close };
  }

  /** `now` in milliseconds (Date.now()). */
  check(line: string, sender: string, now = Date.now()): Verdict {
    const p = this.policy();
    if (Buffer.byteLength(line, 'utf8') > MAX_MESSAGE) return this.refuse('oversized', `message over ${MAX_MESSAGE} bytes`, true);
    // Rate: every line counts, signed or not, before any work is spent on it.
    let w = this.windows.get(sender);
    if (w === undefined || now - w[0] >= 1000) {
      this.windows.delete(sender);
      if (this.windows.size >= MAX_SENDERS) this.forgetWindows(now);
      w = [now, 0];
      this.windows.set(sender, w);
    }
    w[1]++;
    if (w[1] > p.rate) return this.refuse('rate', `more than ${p.rate} messages per second`, w[1] > 4 * p.rate);

    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return this.refuse('malformed', 'message is not JSON', false);
    }
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return this.refuse('malformed', 'message is not a JSON object', false);
    const { msg, ts, nonce, mac } = m;
    if (typeof msg !== 'string' || typeof ts !== 'number' || !Number.isSafeInteger(ts) || typeof nonce !== 'string' || !/^[0-9a-f]{16,64}$/i.test(nonce)) {
      return this.refuse('malformed', 'expected {"msg": string, "ts": unix seconds, "nonce": 16-64 hex digits, "mac": hex}', false);
    }
    if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/i.test(mac)) return this.refuse('mac', 'missing or bad MAC', false);
    const want = Buffer.from(computeMac(p.key, ts, nonce, msg), 'hex');
    if (!timingSafeEqual(want, Buffer.from(mac, 'hex'))) return this.refuse('mac', 'bad MAC', false);
    const sec = now / 1000;
    if (Math.abs(sec - ts) > p.maxSkew) return this.refuse('stale', `timestamp more than ${p.maxSkew} s from the appliance's clock`, false);
    this.forgetNonces(sec);
    const id = nonce.toLowerCase();
    if (this.nonces.has(id)) return this.refuse('replay', 'nonce already used', false);
    if (this.nonces.size >= MAX_NONCES) return this.refuse('rate', 'too many messages in the replay window', false);
    this.nonces.set(id, sec + 2 * p.maxSkew);

    let request: unknown;
    try {
      request = JSON.parse(msg);
    } catch {
      return this.refuse('malformed', 'msg is not JSON', false);
    }
    if (request === null || typeof request !== 'object' || Array.isArray(request)) return this.refuse('malformed', 'msg is not a JSON object', false);
    this.accepted++;
    return { ok: true, request: request as Record<string, unknown> };
  }

  get remembered(): number {
    return this.nonces.size;
  }

  private forgetNonces(sec: number): void {
    for (const [n, until] of this.nonces) {
      if (until > sec) break;
      this.nonces.delete(n);
    }
  }

  private forgetWindows(now: number): void {
    for (const [s, w] of this.windows) {
      if (this.windows.size < MAX_SENDERS && now - w[0] < 1000) break;
      this.windows.delete(s);
    }
  }
}
