import type { ConnRow } from '../control/snapshot';

/**
 * The messages between the first worker (the main thread: devices' steering, control socket,
 * health checks, ARP and ND) and the others (worker_threads, one queue of every device each).
 */

/** What a worker is started with (workerData). */
export interface WorkerStart {
  dir: string;
  index: number;
}

/** First worker -> other: what only the first one learns (ARP/ND answers and health checks come to queue 0). */
export interface FollowState {
  type: 'follow';
  neighbours: [number, Uint8Array][];
  checkFailing: boolean[];
}

/** A control request to apply as the first worker did (reload, divert changes), or to answer (conns). */
export interface Relay {
  type: 'request';
  id: number;
  req: Record<string, unknown>;
}

/** A datagram from the TUN for worker `to`'s connection (Dispatcher.handOver), either way through the first worker. */
export interface HandOver {
  type: 'datagram';
  to: number;
  bytes: Uint8Array;
}

export type ToWorker = FollowState | Relay | HandOver | { type: 'start' } | { type: 'stop' };

/** Other worker -> first: its figures, every REPORT_MS (summed into the control socket's answers). */
export interface Report {
  type: 'report';
  status: Record<string, unknown>;
  servers: Record<string, unknown>[];
  alps: Record<string, unknown>[];
}

export interface Answer {
  type: 'answer';
  id: number;
  answer: { ok: boolean; total?: number; matched?: number; rows?: ConnRow[]; error?: string };
}

export type FromWorker =
  | Report
  | Answer
  | HandOver
  | { type: 'ready' }
  | { type: 'log'; message: string }
  | { type: 'failed'; message: string }
  | { type: 'stopped' };

export const REPORT_MS = 250;
