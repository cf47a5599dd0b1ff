import { formatMac } from '../config/address';
import { DEFENCES } from '../defences';

/** Seconds a server in use may go without confirmation before it is probed: Linux's delay_first_probe_time. */
const DELAY = 5;
/** Unicast probes to the known MAC, then broadcast ones, one a second: Linux's ucast_solicit and mcast_solicit. */
const UNICAST_PROBES = 3;
const BROADCAST_PROBES = 3;
/** Log lines about other MACs claimed for one server, at most; beyond, only counted. */
const CLAIMS_LOGGED = 100;

const enum Nud {
  /** Confirmed recently, or not in use. */
  Reachable = 0,
  /** In use, unconfirmed: asked at its MAC. */
  Probe = 1,
  /** The MAC did not answer: asked by broadcast, any answer believed. */
  Broadcast = 2,
  /** Nobody answers: the server is down until someone does. */
  Failed = 3,
}

/** What reachability asks of ARP or ND: a request for `server`'s address, to `mac` or to everyone (broadcast, or the solicited-node group). */
export interface Prober {
  probe(server: number, mac: Uint8Array | undefined): void;
  adopt(server: number, mac: Uint8Array): void;
  setResolved(server: number, resolved: boolean): void;
}

/**
 * Neighbour reachability for the servers, after Linux's NUD (RFC 4861 7.3, applied to ARP as
 * Linux does; an IPv6 server's answers are Neighbor Advertisements, ndp.ts): a server's MAC is
 * confirmed by the TCP progress the appliance sees from it (new data through the splice:
 * `progressAt`) and by its ARP answers; a server in use that goes DELAY seconds
 * without confirmation is asked at its MAC, then by broadcast, and failing that is marked
 * unresolved, so that new connections go elsewhere, until it answers again.
 *
 * An ARP (or an advertisement with the override flag) that gives a server's address another
 * MAC than the one in use (gratuitous, or an
 * answer to someone else) is not believed at once: the old MAC and the new are both asked, and
 * the new one is adopted only when it answers and the old one does not, so that one forged
 * ARP cannot divert a server's traffic (`heard`). A MAC from servers.ini is never changed.
 */
export class ServerReachability {
  private readonly state: Nud[];
  private readonly confirmedAt: Float64Array;
  private readonly probes: Int32Array;
  private readonly nextProbe: Float64Array;
  /** A MAC some ARP claimed for the server, being verified; whether it and the old one answered. */
  private readonly candidate: (Uint8Array | undefined)[];
  private readonly candidateAnswered: boolean[];
  private readonly oldAnswered: boolean[];
  /** The server's device is gone (its probes paused). */
  private readonly away: boolean[];
  private readonly lastClaim: (Uint8Array | undefined)[];
  private readonly claimsLogged: Int32Array;
  readonly stats = { probes: 0, confirmedByArp: 0, claimsRefused: 0, moved: 0, failed: 0 };

  constructor(
    private readonly names: readonly string[],
    private readonly fixed: readonly boolean[],
    /** Per server, when the splice last saw TCP progress from it (health.ts `progressAt`). */
    private readonly progressAt: Float64Array,
    private readonly prober: Prober,
    private readonly log: (message: string) => void,
    /** Per server, the protocol that resolves it, for the log: ARP, or ND for an IPv6 server. */
    private readonly via: readonly string[] = names.map(() => 'ARP'),
  ) {
    const n = names.length;
    this.state = new Array<Nud>(n).fill(Nud.Reachable);
    this.confirmedAt = new Float64Array(n);
    this.probes = new Int32Array(n);
    this.nextProbe = new Float64Array(n);
    this.candidate = new Array<Uint8Array | undefined>(n).fill(undefined);
    this.candidateAnswered = new Array<boolean>(n).fill(false);
    this.oldAnswered = new Array<boolean>(n).fill(false);
    this.away = new Array<boolean>(n).fill(false);
    this.lastClaim = new Array<Uint8Array | undefined>(n).fill(undefined);
    this.claimsLogged = new Int32Array(n);
  }

  /**
   * An ARP from the server's address with `mac`; `known` is the MAC in use (undefined: none
   * yet); `answer`: a reply to the appliance (not a gratuitous ARP, not a request). Returns
   * true when `mac` is to be used from now on.
   */
  heard(server: number, mac: Uint8Array, known: Uint8Array | undefined, answer: boolean, now: number): boolean {
    if (known === undefined) {
      this.confirmedAt[server] = now;
      return true;
    }
    if (sameMac(mac, known)) {
      this.stats.confirmedByArp++;
      this.confirmedAt[server] = now;
      if (this.candidate[server] !== undefined && answer) this.oldAnswered[server] = true;
      if (this.state[server] !== Nud.Reachable) this.recovered(server, known);
      return false;
    }
    if (this.fixed[server]) {
      if (this.firstClaim(server, mac)) this.log(`${this.via[server]} claims server ${this.names[server]} is at ${formatMac(mac)}; its mac in servers.ini, ${formatMac(known)}, stays`);
      this.stats.claimsRefused++;
      return false;
    }
    // The MAC in use stopped answering its own probes: whoever answers now is the server.
    if (answer && (this.state[server] === Nud.Broadcast || this.state[server] === Nud.Failed)) {
      this.moved(server, known, mac, 'it stopped answering at its old MAC');
      this.confirmedAt[server] = now;
      this.recovered(server, mac);
      return true;
    }
    const c = this.candidate[server];
    if (c !== undefined && sameMac(c, mac)) {
      if (answer) this.candidateAnswered[server] = true;
      return false;
    }
    // A new claim: both asked, the next ticks decide.
    this.candidate[server] = Uint8Array.from(mac);
    this.candidateAnswered[server] = false;
    this.oldAnswered[server] = false;
    this.probes[server] = UNICAST_PROBES;
    this.nextProbe[server] = now;
    if (this.firstClaim(server, mac)) this.log(`${this.via[server]} claims server ${this.names[server]} is at ${formatMac(mac)}, not ${formatMac(known)}; asking both before believing it`);
    return false;
  }

  /**
   * Each tick, per server: the verification of a claim, and the probes of a server in use whose
   * MAC is unconfirmed. `used[s]`: packets went to the server since the last tick; `mac[s]`: its MAC.
   */
  tick(now: number, used: (server: number) => boolean, mac: (server: number) => Uint8Array | undefined, away: (server: number) => boolean): void {
    if (!DEFENCES) return;
    for (let s = 0; s < this.state.length; s++) {
      const known = mac(s);
      if (known === undefined || this.fixed[s]) continue;
      // Its device is gone (device-watch.ts): nothing can be asked, or answered, meanwhile.
      if (away(s)) {
        this.away[s] = true;
        continue;
      }
      if (this.away[s]) this.resume(s, now);
      if (this.candidate[s] !== undefined) {
        this.verify(s, known, now);
        continue;
      }
      if (this.state[s] === Nud.Reachable) {
        if (!used(s) || now - Math.max(this.confirmedAt[s], this.progressAt[s]) < DELAY) continue;
        this.state[s] = Nud.Probe;
        this.probes[s] = UNICAST_PROBES;
        this.nextProbe[s] = now;
      }
      this.probeWhenDue(s, known, now);
    }
  }

  /** Back with its device: as if just confirmed, so that nothing from before counts against it. */
  private resume(s: number, now: number): void {
    this.away[s] = false;
    this.candidate[s] = undefined;
    this.confirmedAt[s] = now;
    if (this.state[s] === Nud.Failed) this.prober.setResolved(s, true);
    this.state[s] = Nud.Reachable;
  }

  private probeWhenDue(s: number, known: Uint8Array, now: number): void {
    if (now < this.nextProbe[s]) return;
    this.nextProbe[s] = now + 1;
    if (this.state[s] !== Nud.Failed && this.probes[s] === 0) {
      if (this.state[s] === Nud.Probe) {
        this.state[s] = Nud.Broadcast;
        this.probes[s] = BROADCAST_PROBES;
      } else {
        this.state[s] = Nud.Failed;
        this.stats.failed++;
        this.prober.setResolved(s, false);
        this.log(`server ${this.names[s]} answers no ${this.via[s]} (last at ${formatMac(known)}); down until it does`);
      }
    }
    if (this.state[s] !== Nud.Failed) this.probes[s]--;
    this.stats.probes++;
    this.prober.probe(s, this.state[s] === Nud.Probe ? known : undefined);
  }

  private verify(s: number, known: Uint8Array, now: number): void {
    const c = this.candidate[s]!;
    if (this.oldAnswered[s]) {
      this.log(`server ${this.names[s]} still answers at ${formatMac(known)}: the claim for ${formatMac(c)} is refused`);
      this.stats.claimsRefused++;
      this.candidate[s] = undefined;
      return;
    }
    if (now < this.nextProbe[s]) return;
    if (this.probes[s] === 0) {
      this.candidate[s] = undefined;
      if (this.candidateAnswered[s]) {
        this.moved(s, known, c, 'its old MAC no longer answers');
        this.prober.adopt(s, c);
      } else {
        this.log(`server ${this.names[s]}: neither ${formatMac(known)} nor ${formatMac(c)} answers; ${formatMac(known)} stays`);
      }
      return;
    }
    this.probes[s]--;
    this.nextProbe[s] = now + 1;
    this.stats.probes += 2;
    this.prober.probe(s, known);
    this.prober.probe(s, c);
  }

  private recovered(s: number, mac: Uint8Array): void {
    if (this.state[s] === Nud.Failed) {
      this.prober.setResolved(s, true);
      this.log(`server ${this.names[s]} answers ${this.via[s]} again at ${formatMac(mac)}`);
    }
    this.state[s] = Nud.Reachable;
  }

  private moved(s: number, from: Uint8Array, to: Uint8Array, why: string): void {
    this.stats.moved++;
    this.log(`server ${this.names[s]} moved from ${formatMac(from)} to ${formatMac(to)} (${why})`);
  }

  /**
   * Whether a claim is worth a log line: not the same MAC as the server's last logged claim, and
   * fewer than CLAIMS_LOGGED lines for the server so far. Allocates nothing for a flood of one
   * forged ARP, which costs a counter, not a log.
   */
  private firstClaim(s: number, mac: Uint8Array): boolean {
    const last = this.lastClaim[s];
    if ((last !== undefined && sameMac(last, mac)) || this.claimsLogged[s] >= CLAIMS_LOGGED) return false;
    this.lastClaim[s] = Uint8Array.from(mac);
    this.claimsLogged[s]++;
    return true;
  }
}

export function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}
