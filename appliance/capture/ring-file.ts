import { renameSync, rmSync, statSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';

/**
 * A bounded ring of two files, as tcpdump -C/-W 2 keeps one: FILE is written until the next
 * chunk would take it past half the bound, then it becomes FILE.1 (replacing the older one)
 * and a new FILE starts with `header`. Each file is a whole capture on its own (the caller's
 * header is pcapng's section and interfaces), and both together never exceed `maxBytes`.
 *
 * Failures (a missing directory, a full disk, EIO) are counted and logged once per kind; the
 * chunk is lost, a half-written one is cut off again, and the next chunk tries anew.
 */
export class RingFile {
  readonly stats = { bytes: 0, rotations: 0, errors: 0 };
  private fh: FileHandle | undefined;
  /** Bytes in FILE, every one of them written. */
  private size = 0;
  private readonly half: number;
  private readonly logged = new Set<string>();

  constructor(readonly path: string, maxBytes: number, private readonly header: Buffer, private readonly log: (message: string) => void) {
    this.half = Math.floor(maxBytes / 2);
  }

  /** The largest chunk `append` takes: a new file must hold its header and the chunk. */
  get maxChunk(): number {
    return this.half - this.header.length;
  }

  /**
   * At start, synchronously: the older file goes, and a FILE left by an earlier run becomes
   * FILE.1, so that its drops stay readable (removed instead if it is over half the bound,
   * as a larger earlier bound may have let it grow).
   */
  start(): void {
    try {
      rmSync(this.older, { force: true });
      const st = statSync(this.path, { throwIfNoEntry: false });
      if (st !== undefined && st.size <= this.half) renameSync(this.path, this.older);
      else if (st !== undefined) rmSync(this.path, { force: true });
    } catch (e) {
      this.failed(e);
    }
  }

  private get older(): string {
    return `${this.path}.1`;
  }

  /** Appends `len` bytes of `chunk` (at most `maxChunk`); true once written. Never rejects; one call at a time. */
  async append(chunk: Buffer, len: number): Promise<boolean> {
    try {
      if (this.fh !== undefined && this.size + len > this.half) await this.rotate();
      if (this.fh === undefined) await this.create();
      await this.writeAt(this.fh!, chunk, len);
      return true;
    } catch (e) {
      this.failed(e);
      // A chunk written in part must not stay as a cut block: readers would stop there.
      await this.fh?.truncate(this.size).catch(() => undefined);
      return false;
    }
  }

  private async rotate(): Promise<void> {
    const fh = this.fh!;
    this.fh = undefined;
    await fh.close();
    await rename(this.path, this.older);
    this.stats.rotations++;
  }

  /** A new FILE holding the header. */
  private async create(): Promise<void> {
    const fh = await open(this.path, 'w', 0o640);
    this.size = 0;
    try {
      await this.writeAt(fh, this.header, this.header.length);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    this.fh = fh;
  }

  private async writeAt(fh: FileHandle, b: Buffer, len: number): Promise<void> {
    let done = 0;
    while (done < len) {
      const { bytesWritten } = await fh.write(b, done, len - done, this.size + done);
      done += bytesWritten;
    }
    this.size += len;
    this.stats.bytes += len;
  }

  /** Closes FILE (stop); what was appended stays. */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }

  private failed(e: unknown): void {
    this.stats.errors++;
    const err = e as NodeJS.ErrnoException;
    const kind = err?.code ?? String(e);
    if (this.logged.has(kind)) return;
    this.logged.add(kind);
    this.log(`capture ${this.path}: ${err?.message ?? String(e)} (counted in ctl status capture.errors, logged once; the appliance goes on)`);
  }
}
