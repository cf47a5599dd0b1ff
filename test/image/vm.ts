import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The VM image booted under qemu with software emulation, inside a lab namespace: one NIC per
 * TAP (eth0, eth1, .. in that order, as the image's INI files expect), the serial console on a
 * Unix socket for typing and in a log file for reading. The image itself is never written: the
 * VM runs on a qcow2 overlay that goes away with it.
 */
export type NicModel = 'virtio-net-pci' | 'e1000';

export interface VmOptions {
  image: string;
  /** Namespace holding the TAPs, where qemu runs. */
  ns: string;
  taps: string[];
  nic: NicModel;
  memoryMb?: number;
}

export class LabVm {
  private readonly dir: string;
  private readonly qemu: ChildProcess;
  private console?: Socket;
  private exited = false;
  readonly started = Date.now();
  qemuStderr = '';

  private constructor(o: VmOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'socksalp-vm-'));
    const disk = join(this.dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', resolve(o.image), disk]);
    const nics = o.taps.flatMap((tap, i) => [
      '-netdev', `tap,id=n${i},ifname=${tap},script=no,downscript=no`,
      // Fixed MACs: a second boot in the same lab finds the neighbours' caches still right.
      '-device', `${o.nic},netdev=n${i},mac=52:54:00:5a:00:${i.toString(16).padStart(2, '0')}`,
    ]);
    this.qemu = spawn('ip', ['netns', 'exec', o.ns, 'qemu-system-x86_64',
      '-m', String(o.memoryMb ?? 1024), '-smp', '1', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-drive', `file=${disk},if=virtio,format=qcow2`,
      '-chardev', `socket,id=s0,path=${this.socketPath},server=on,wait=off,logfile=${this.logPath}`,
      '-serial', 'chardev:s0', ...nics], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.qemu.stderr!.on('data', (b: Buffer) => { this.qemuStderr += b.toString(); });
    this.qemu.on('exit', () => { this.exited = true; });
  }

  static async boot(o: VmOptions): Promise<LabVm> {
    if (!existsSync(o.image)) throw new Error(`no image at ${o.image}: run "npm run image" first`);
    const vm = new LabVm(o);
    await vm.attachConsole();
    return vm;
  }

  get socketPath(): string {
    return join(this.dir, 'serial.sock');
  }

  get logPath(): string {
    return join(this.dir, 'serial.log');
  }

  /** Everything the serial console printed since power-on. */
  serial(): string {
    try {
      return readFileSync(this.logPath, 'latin1');
    } catch {
      return '';
    }
  }

  /** Waits until `pattern` appears in the console's output after offset `from`; returns the offset after the match. */
  async waitFor(pattern: RegExp, from: number, timeoutMs: number): Promise<{ end: number; match: RegExpExecArray }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.serial().slice(from));
      if (m) return { end: from + m.index + m[0].length, match: m };
      if (this.exited) throw new Error(`qemu exited while waiting for ${pattern}: ${this.qemuStderr}\n${this.tail()}`);
      if (Date.now() > until) throw new Error(`no ${pattern} on the serial console within ${timeoutMs / 1000} s; it said:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Keystrokes on the serial console. */
  type(text: string): void {
    this.console!.write(text);
  }

  /**
   * Runs a shell command at the console's root prompt and waits for its exit status, marked
   * by a line the command line itself cannot contain ("$?" is only expanded in the output).
   */
  async shell(command: string, timeoutMs = 60_000): Promise<{ status: number; output: string }> {
    const from = this.serial().length;
    const mark = `done${Math.floor(Math.random() * 1e9)}`;
    this.type(`${command}; echo "${mark} status=$?"\r`);
    const { end, match } = await this.waitFor(new RegExp(`${mark} status=(\\d+)`), from, timeoutMs);
    return { status: Number(match[1]), output: this.serial().slice(from, end) };
  }

  /** Readable tail of the console: escape sequences stripped. */
  tail(lines = 40): string {
    const plain = this.serial().replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>78]/g, '');
    return plain.split(/\r?\n/).slice(-lines).join('\n');
  }

  async stop(): Promise<void> {
    this.console?.destroy();
    if (!this.exited && this.qemu.pid !== undefined) {
      const gone = new Promise((r) => this.qemu.once('exit', r));
      this.qemu.kill('SIGTERM');
      const timer = setTimeout(() => this.qemu.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async attachConsole(): Promise<void> {
    const until = Date.now() + 20_000;
    while (!existsSync(this.socketPath)) {
      if (this.exited) throw new Error(`qemu did not start: ${this.qemuStderr}`);
      if (Date.now() > until) throw new Error('qemu made no serial socket within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    this.console = await new Promise<Socket>((res, rej) => {
      const s = connect(this.socketPath, () => res(s));
      s.once('error', rej);
    });
    // What comes back is also in the log file, which is what is read.
    this.console.on('data', () => undefined);
    this.console.on('error', () => undefined);
  }
}
