import { inspect } from 'node:util';
import type { MonitorKey } from './tables';

/** An HMAC key: the first line of a key_file, 16 to 1024 bytes (the monitor channel's, the HA pair's sync). */
export const KEY_MIN = 16;
export const KEY_MAX = 1024;

/**
 * An HMAC key read from its key_file, redacted wherever an object gets printed: JSON (a
 * snapshot, a log line) and util.inspect show the file and the key's length, never its bytes.
 * `label` names it in util.inspect (MonitorKey, SyncKey).
 */
export class KeyBytes implements MonitorKey {
  constructor(readonly bytes: Buffer, readonly file: string, private readonly label: string) {}

  toJSON(): Record<string, unknown> {
    return { file: this.file, key: `(${this.bytes.length} bytes)` };
  }

  [inspect.custom](): string {
    return `${this.label} { file ${this.file}, ${this.bytes.length} bytes }`;
  }
}
