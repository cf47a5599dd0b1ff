import { inspect } from 'node:util';
import type { MonitorKey } from '../config/tables';

/** The monitor's key: the first line of key_file, 16 to 1024 bytes. */
export const MONITOR_KEY_MIN = 16;
export const MONITOR_KEY_MAX = 1024;

/**
 * The monitor channel's HMAC key, redacted wherever an object gets printed: JSON (a snapshot,
 * a log line) and util.inspect show the file and the key's length, never its bytes.
 */
export class MonitorKeyBytes implements MonitorKey {
  constructor(readonly bytes: Buffer, readonly file: string) {}

  toJSON(): Record<string, unknown> {
    return { file: this.file, key: `(${this.bytes.length} bytes)` };
  }

  [inspect.custom](): string {
    return `MonitorKey { file ${this.file}, ${this.bytes.length} bytes }`;
  }
}
