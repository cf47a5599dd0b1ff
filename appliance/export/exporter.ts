import { createSocket, type Socket } from 'node:dgram';
import { ConnState, type Connection } from '../flow/connection';
import type { ConnectionTable, Pass } from '../flow/table';
import type { ConnectionObserver } from '../stats/observer';
import type { ExportSettings } from '../config/export-ini';
import { formatIpv4 } from '../config/address';
import { IpfixWriter, SET_HEADER, TEMPLATE_SET_ID } from '../wire/ipfix';
import { FLOW_TEMPLATES, FLOW_TEMPLATE_ID } from './template';
import { flowRecordLength, flowTemplateBits, newReported, writeFlowRecord, type RecordContext, type Reported } from './flow-record';
import { FLOW_END_ACTIVE, FLOW_END_REASON } from './end-reason';

/**
 * Path-MTU-safe message size: 1500 less IPv4 and UDP headers, with room for a tunnel on the
 * way. RFC 7011 10.3.3: an IPFIX message over UDP must not be fragmented.
 */
export const MESSAGE_MAX = 1400;
/** Messages that may wait for the socket at once; with none free a record is counted lost. */
const BUFFERS = 64;
/** Records wait this long at most before their message goes, full or not. */
const FLUSH_MS = 1000;
/** How long a stop waits for the socket to take the last messages. */
const STOP_MS = 1000;

/** What the exporter reads of the appliance (appliance.ts): its clock, configuration, ALP names, table. */
export interface ExportSource {
  readonly started: number;
  readonly config: { appliance: { socksPort: number }; servers: RecordContext['servers'] };
  readonly alps: { names: readonly string[] };
  readonly dispatcher: { table: ConnectionTable };
  now(): number;
}

/**
 * The IPFIX Exporting Process (RFC 7011) over UDP: one Data Record per connection when it
 * ends (`ended`, a ConnectionObserver, called on the packet path: it writes into a buffer
 * taken from a pool and allocates nothing), interim records for connections open longer than
 * `interim`, and the templates (one per pair of the legs' families, template.ts) alone in a
 * message at start and every `template_refresh` (RFC 7011 8.4). Records are packed into messages of up to MESSAGE_MAX bytes, sent when the
 * next record does not fit and at least every FLUSH_MS. A collector that is not there (ICMP
 * unreachable, reported on the connected socket's later sends) is counted and logged once
 * per error; records keep being sent, so export resumes when it is back.
 */
export class IpfixExporter implements ConnectionObserver {
  /**
   * records: Data Records written (interimRecords of them interim); messages, templates (the
   * messages that were a template) and octets: sent without error; errors: what the socket reported (a refused send, an ICMP error read back);
   * lostRecords: records in messages that failed, or that found no buffer or no socket.
   */
  readonly stats = { records: 0, interimRecords: 0, messages: 0, templates: 0, octets: 0, errors: 0, lostRecords: 0, lastError: '' };
  private readonly socket: Socket;
  private connected = false;
  private connecting = false;
  private readonly w = new IpfixWriter();
  private readonly free: Buffer[] = [];
  /** Messages handed to the socket, oldest first (a UDP socket completes sends in order). */
  private readonly sending: Buffer[] = [];
  private readonly sendingRecords: number[] = [];
  /** Whether `w` holds a message, and how many Data Records it has; the Template ID of its open Data Set. */
  private open = false;
  private inMessage = 0;
  private setTemplate = -1;
  /** RFC 7011 3.1: Data Records sent before the next message, modulo 2^32. */
  private sequence = 0;
  private readonly reported = new WeakMap<Connection, Reported>();
  private readonly ctx: RecordContext;
  private interimPass: Pass | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly logged = new Set<string>();
  private closing: (() => void) | undefined;
  private readonly onSent = (err: Error | null) => this.sent(err);

  constructor(readonly settings: ExportSettings, private readonly source: ExportSource, private readonly log: (message: string) => void) {
    for (let i = 0; i < BUFFERS; i++) this.free.push(Buffer.alloc(MESSAGE_MAX));
    this.ctx = { started: source.started, socksPort: 0, servers: [], alpNames: [] };
    this.socket = createSocket('udp4');
    // Send errors come to each send's callback; this is for anything else the socket reports.
    this.socket.on('error', (e) => this.failed(e));
  }

  get collector(): string {
    return `${formatIpv4(this.settings.address)}:${this.settings.port}`;
  }

  /** `ctl status` export: where records go and the counters. */
  status(): object {
    return { collector: this.collector, observationDomain: this.settings.observationDomain, ...this.stats };
  }

  /** Connects the socket (UDP: nothing is sent), sends the template and starts the timers. */
  async start(): Promise<void> {
    await this.connect();
    this.sendTemplate();
    const s = this.settings;
    this.timers.push(setInterval(() => this.flush(), FLUSH_MS));
    this.timers.push(setInterval(() => this.startInterim(), s.interim * 1000));
    this.timers.push(setInterval(() => { if (!this.connected) void this.connect(); this.sendTemplate(); }, s.templateRefresh * 1000));
    for (const t of this.timers) t.unref();
    this.log(`export: IPFIX to ${this.collector} (UDP), observation domain ${s.observationDomain}, interim ${s.interim}s, template every ${s.templateRefresh}s`);
  }

  /** ConnectionObserver: the connection's last record (its counts since any interim record). */
  ended(c: Connection): void {
    const r = this.reported.get(c);
    if (r) this.reported.delete(c);
    this.record(c, r, FLOW_END_REASON[c.endReason]);
  }

  /** Sends what is waiting, then closes the socket once it has taken every message (a second at most). */
  stop(done?: () => void): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.endInterim();
    this.flush();
    const close = () => {
      this.closing = undefined;
      this.socket.close();
      done?.();
    };
    if (this.sending.length === 0) return close();
    this.closing = close;
    setTimeout(() => this.closing?.(), STOP_MS).unref();
  }

  /** RFC 7011 8.4: the templates, alone in a message (one Template Set), so a collector that (re)starts learns them. */
  sendTemplate(): void {
    this.flush();
    // Not connected (the next refresh tries again): nothing would go, and nothing is counted.
    if (!this.connected || !this.begin()) return;
    this.w.openSet(TEMPLATE_SET_ID);
    for (let bits = 0; bits < FLOW_TEMPLATES.length; bits++) this.w.templateRecord(FLOW_TEMPLATE_ID + bits, FLOW_TEMPLATES[bits]);
    this.w.closeSet();
    this.flush();
  }

  /** Sends the message being filled, if it has anything. */
  flush(): void {
    if (!this.open) return;
    this.open = false;
    const buf = this.w.buf;
    const n = this.w.finish(Math.floor(Date.now() / 1000), this.sequence, this.settings.observationDomain);
    const records = this.inMessage;
    this.sequence = (this.sequence + records) >>> 0;
    this.inMessage = 0;
    if (!this.connected) {
      this.lost(records);
      this.free.push(buf);
      return;
    }
    this.sending.push(buf);
    this.sendingRecords.push(records);
    this.socket.send(buf, 0, n, this.onSent);
  }

  /** An interim record for every connection open longer than `interim`, in turns the buffers allow. */
  private startInterim(): void {
    if (this.interimPass) return; // the last pass is still going: the table is large, the socket slow
    this.interimPass = this.source.dispatcher.table.pass();
    this.continueInterim();
  }

  private endInterim(): void {
    if (this.interimPass) this.source.dispatcher.table.endPass(this.interimPass);
    this.interimPass = undefined;
  }

  private continueInterim(): void {
    const pass = this.interimPass;
    if (!pass) return;
    const oldest = this.source.now() - this.settings.interim;
    // A record may need a message of its own: go on only while a buffer is there for it.
    while (this.free.length > 0) {
      const c = this.source.dispatcher.table.next(pass);
      if (c === undefined) {
        this.endInterim();
        return;
      }
      // A closed or refused connection lingers only to take retransmissions: its last record is near.
      if (c.created > oldest || c.state >= ConnState.Refused) continue;
      let r = this.reported.get(c);
      if (!r) this.reported.set(c, (r = newReported()));
      this.record(c, r, FLOW_END_ACTIVE);
      this.stats.interimRecords++;
    }
  }

  private record(c: Connection, r: Reported | undefined, flowEndReason: number): void {
    const ctx = this.context();
    const bits = flowTemplateBits(c, ctx);
    const need = flowRecordLength(c, ctx, bits) + SET_HEADER;
    if (this.open && this.w.room < need) this.flush();
    if (!this.open && !this.begin()) {
      this.lost(1);
      return;
    }
    // Records of another pair of families go in a Data Set of their own Template (RFC 7011 3.3.1).
    const id = FLOW_TEMPLATE_ID + bits;
    if (this.w.inSet && this.setTemplate !== id) this.w.closeSet();
    if (!this.w.inSet) {
      this.w.openSet(id);
      this.setTemplate = id;
    }
    writeFlowRecord(this.w, c, ctx, bits, r, flowEndReason);
    this.inMessage++;
    this.stats.records++;
  }

  /** The names and addresses in force (a reload replaces the configuration and adds ALP names). */
  private context(): RecordContext {
    const s = this.source;
    this.ctx.socksPort = s.config.appliance.socksPort;
    this.ctx.servers = s.config.servers;
    this.ctx.alpNames = s.alps.names;
    return this.ctx;
  }

  private begin(): boolean {
    const buf = this.free.pop();
    if (!buf) return false;
    this.w.begin(buf, 0, MESSAGE_MAX);
    this.open = true;
    return true;
  }

  private sent(err: Error | null): void {
    const buf = this.sending.shift()!;
    const records = this.sendingRecords.shift()!;
    if (err) {
      this.lost(records);
      this.failed(err);
    } else {
      this.stats.messages++;
      this.stats.octets += messageLength(buf);
      // A message of no Data Records is a template (sendTemplate): a record() always writes one.
      if (records === 0) this.stats.templates++;
    }
    this.free.push(buf);
    if (this.closing && this.sending.length === 0) this.closing();
    else this.continueInterim();
  }

  private lost(records: number): void {
    this.stats.lostRecords += records;
  }

  /** A failure (no route to the collector) is retried at each template refresh. */
  private async connect(): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    const err = await new Promise<Error | undefined>((resolve) => {
      try {
        // Node passes a failure to the callback (lib/dgram.js doConnect); its types say nothing of it.
        this.socket.connect(this.settings.port, formatIpv4(this.settings.address), resolve as () => void);
      } catch (e) {
        resolve(e as Error);
      }
    });
    this.connecting = false;
    if (err) this.failed(err);
    else this.connected = true;
  }

  /** Logged once per kind of error: a dead collector would otherwise log at every message. */
  private failed(e: Error): void {
    this.stats.errors++;
    const code = (e as NodeJS.ErrnoException).code ?? e.message;
    this.stats.lastError = code;
    if (this.logged.has(code)) return;
    this.logged.add(code);
    this.log(`export: IPFIX to ${this.collector}: ${code}; counted in ctl status export (errors, lostRecords), logged once; export goes on`);
  }
}

/** The length field of the message at the start of `buf` (RFC 7011 3.1). */
function messageLength(buf: Buffer): number {
  return (buf[2] << 8) | buf[3];
}
