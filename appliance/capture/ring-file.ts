import { renameSync, rmSync, statSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';

/**
 * A bounded ring of two files, as tcpdump -C/-W 2 keeps one: FILE is written until the next
 * pcapng block would take it past half the bound, then it becomes FILE.1 (replacing the older
 * one) and a new FILE starts with `header`. Each file is a whole capture on its own (the
 * caller's header is pcapng's section and interfaces), both together never exceed `maxBytes`,
 * and FILE.1 is always full to within a block.
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

  /**
   * Appends the first `len` bytes of `chunk`, whole pcapng blocks (each shorter than half the
   * bound less the header): those FILE has room for, then the rest after a rotation. Returns
   * how many blocks were written: all, unless a write failed. Never rejects; one call at a time.
   */
  async append(chunk: Buffer, len: number): Promise<number> {
    let written = 0;
    let from = 0;
    try {
      while (from < len || this.fh === undefined) {
        if (this.fh === undefined) await this.create();
        let to = from;
        let blocks = 0;
        while (to < len && this.size + (to - from) + chunk.readUInt32LE(to + 4) <= this.half) {
          to += chunk.readUInt32LE(to + 4);
          blocks++;
        }
        await this.writeAt(this.fh!, chunk, from, to - from);
        written += blocks;
        from = to;
        if (from < len) await this.rotate();
      }
    } catch (e) {
      this.failed(e);
      // A block written in part must not stay cut: readers would stop there.
      await this.fh?.truncate(this.size).catch(() => undefined);
    }
    return written;
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
      await this.writeAt(fh, this.header, 0, this.header.length);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    this.fh = fh;
  }

  private async writeAt(fh: FileHandle, b: Buffer, off: number, len: number): Promise<void> {
    let done = 0;
    while (done < len) {
      const { bytesWritten } = await fh.write(b, off + done, len - done, this.size + done);
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
