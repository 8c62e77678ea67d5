/**
 * IPVS connection entries (struct ip_vs_conn) and the table that holds them (ip_vs_conn.c): normal
 * connections and persistence templates, looked up from the client side (in) and the real-server
 * side (out), each with a timer. Time is an argument: entries expire when a call passes a `now` at
 * or after their expiry, in expiry order, so a template that still controls connections when its
 * timer fires is re-armed for 60 s as the kernel does.
 */
import type { IP } from '../addr.js';
import { ipEquals } from '../addr.js';
import { timeHi, timeLo, timeOf } from '../conntrack/split-time.js';
import { ipHash } from '../conntrack/tuple-index.js';
import { type ConnHashKeys, connBucket } from './conn-hash.js';
import type { IpvsDest } from './dest.js';
import type { IpvsTcpState } from './tcp-state.js';
import { TimerQueues } from './timer-queues.js';
import type { IpvsForward, IpvsProtocol } from './types.js';

/** What a connection entry shows: a TCP state, 'UDP' (IP_VS_UDP_S_NORMAL), or a template's NONE/ASSURED. */
export type IpvsConnState = IpvsTcpState | 'UDP' | 'ASSURED';

export interface IpvsConnView {
  readonly id: number;
  readonly protocol: IpvsProtocol;
  readonly caddr: IP;
  readonly cport: number;
  readonly vaddr: IP;
  readonly vport: number;
  readonly daddr: IP;
  readonly dport: number;
  /** IP_VS_CONN_F_TEMPLATE: a persistence template. */
  readonly template: boolean;
  readonly state: IpvsConnState;
  /** IP_VS_CONN_F_INACTIVE (counted in inactconns). */
  readonly inactive: boolean;
  /** The timeout the next timer restart uses, ms. */
  readonly timeoutMs: number;
  readonly expiresAt: number;
  readonly createdAt: number;
  /** Connections this template controls (n_control). */
  readonly nControl: number;
  /** The template that controls this connection, if any. */
  readonly control: IpvsConnView | undefined;
  readonly destName: string;
  /** The real server's forwarding method (cp->flags & IP_VS_CONN_F_FWD_MASK). */
  readonly forward: IpvsForward;
}

/**
 * A connection entry. Flat on purpose (closed connections wait ~120 s in TIME_WAIT, ~30,000 at bench
 * rates, and every object they keep is work for each garbage collection): the times are split into
 * small integers (split-time.ts: a Date.now()-sized number field is a HeapNumber box per entry in
 * V8), its seven flags share one small-integer field, and the timers keep their keys in arrays of
 * numbers, with no slot object per timer.
 */
const INACTIVE = 1;
const NO_OUTPUT = 2;
const NFCT = 4;
const ARMED = 8;
const DEAD = 16;
const INVALID = 32;
const TEMPLATE = 64;

export class IpvsConn implements IpvsConnView {
  state: IpvsConnState;
  /** The flags below (inactive, noOutput, nfct, armed, dead, invalid, template), one bit each. */
  private bits: number;
  timeoutMs: number;
  /** expiresAt, createdAt and heapKey, split (split-time.ts). */
  private expHi: number;
  private expLo: number;
  private readonly createdHi: number;
  private readonly createdLo: number;
  private heapHi = 0;
  private heapLo = 0;
  nControl = 0;
  control: IpvsConn | undefined;
  /** Its hashes in the table's indexes (set by the table; connKeyHash of the in and out tuples). */
  inHash = -1;
  outHash = -1;
  /** The next entry in the same index chain (by client tuple / by real-server tuple). */
  nextIn: IpvsConn | undefined = undefined;
  nextOut: IpvsConn | undefined = undefined;

  constructor(
    readonly id: number,
    readonly protocol: IpvsProtocol,
    public caddr: IP,
    public cport: number,
    public vaddr: IP,
    public vport: number,
    readonly daddr: IP,
    readonly dport: number,
    readonly dest: IpvsDest,
    /** The key of the service this entry was made for (its dest may outlive it). */
    readonly serviceKey: string,
    template: boolean,
    noOutput: boolean,
    nfct: boolean,
    now: number,
    timeoutMs: number,
  ) {
    this.state = 'NONE';
    this.bits = INACTIVE | (template ? TEMPLATE : 0) | (noOutput ? NO_OUTPUT : 0) | (nfct ? NFCT : 0);
    this.createdHi = timeHi(now);
    this.createdLo = timeLo(now, this.createdHi);
    this.timeoutMs = timeoutMs;
    const exp = now + timeoutMs;
    this.expHi = timeHi(exp);
    this.expLo = timeLo(exp, this.expHi);
  }

  private flag(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }

  /** IP_VS_CONN_F_TEMPLATE: a persistence template. */
  get template(): boolean {
    return (this.bits & TEMPLATE) !== 0;
  }

  /** IP_VS_CONN_F_INACTIVE (counted in inactconns). */
  get inactive(): boolean {
    return (this.bits & INACTIVE) !== 0;
  }
  set inactive(on: boolean) {
    this.flag(INACTIVE, on);
  }

  /** IP_VS_CONN_F_NOOUTPUT: no reply seen yet on a non-NAT connection. */
  get noOutput(): boolean {
    return (this.bits & NO_OUTPUT) !== 0;
  }
  set noOutput(on: boolean) {
    this.flag(NO_OUTPUT, on);
  }

  /** IP_VS_CONN_F_NFCT: net.ipv4.vs.conntrack was on when it was made. */
  get nfct(): boolean {
    return (this.bits & NFCT) !== 0;
  }
  set nfct(on: boolean) {
    this.flag(NFCT, on);
  }

  /** Whether the entry has a live slot in the table's timers (at heapKey). */
  get armed(): boolean {
    return (this.bits & ARMED) !== 0;
  }
  set armed(on: boolean) {
    this.flag(ARMED, on);
  }

  /** Removed from the table. */
  get dead(): boolean {
    return (this.bits & DEAD) !== 0;
  }
  set dead(on: boolean) {
    this.flag(DEAD, on);
  }

  /** A template invalidated by ip_vs_check_template (its ports set to 0xffff so nothing finds it). */
  get invalid(): boolean {
    return (this.bits & INVALID) !== 0;
  }
  set invalid(on: boolean) {
    this.flag(INVALID, on);
  }

  get expiresAt(): number {
    return timeOf(this.expHi, this.expLo);
  }

  set expiresAt(t: number) {
    const hi = timeHi(t);
    this.expHi = hi;
    this.expLo = timeLo(t, hi);
  }

  get createdAt(): number {
    return timeOf(this.createdHi, this.createdLo);
  }

  /** The key of this entry's live slot in the timer heap (meaningful while `armed`). */
  get heapKey(): number {
    return timeOf(this.heapHi, this.heapLo);
  }

  set heapKey(t: number) {
    const hi = timeHi(t);
    this.heapHi = hi;
    this.heapLo = timeLo(t, hi);
  }

  get forward(): IpvsForward {
    return this.dest.forward;
  }

  get destName(): string {
    return this.dest.name;
  }

  /** ip_vs_conn_put: restart the timer with the current timeout. */
  touch(now: number): void {
    this.expiresAt = now + this.timeoutMs;
  }
}

const PROTO_CODE: Record<IpvsProtocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/**
 * The hash of an index key (protocol, address a, port a, address b, port b): 30 bits, a V8 small
 * integer, so the indexes need no key string per packet. Equal keys hash equally; chains compare the
 * fields themselves.
 */
function connKeyHash(proto: IpvsProtocol, a: IP, aport: number, b: IP, bport: number): number {
  let h = Math.imul(ipHash(a) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ ipHash(b), 0xc2b2ae35);
  h = Math.imul(h ^ (((aport & 0xffff) << 16) | (bport & 0xffff)), 0x27d4eb2f);
  h = Math.imul(h ^ PROTO_CODE[proto], 0x165667b1);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** Buckets an index starts with; it doubles them when it holds more entries than buckets. */
const INITIAL_BUCKETS = 1024;

function emptyBuckets(n: number): (IpvsConn | undefined)[] {
  return new Array<IpvsConn | undefined>(n).fill(undefined);
}

/**
 * One index of the connection table: what a `Map` keyed by `proto|a|aport|b|bport` gave (set
 * replaces the entry with an equal key, delete removes an entry only while it is the one its key
 * finds), as the kernel's hash lists: a bucket array indexed by the key's numeric hash (masked,
 * doubled as the index grows) heads chains through the entries themselves. `side` says which of an
 * entry's tuples the index holds: 'in' (client, virtual: normal connections and templates) or 'out'
 * (real server, client).
 */
class ConnIndex {
  private heads: (IpvsConn | undefined)[] = emptyBuckets(INITIAL_BUCKETS);
  private mask = INITIAL_BUCKETS - 1;
  private count = 0;
  constructor(private readonly side: 'in' | 'out') {}

  private same(c: IpvsConn, proto: IpvsProtocol, a: IP, aport: number, b: IP, bport: number): boolean {
    if (c.protocol !== proto) return false;
    if (this.side === 'in')
      return c.cport === aport && c.vport === bport && ipEquals(c.caddr, a) && ipEquals(c.vaddr, b);
    return c.dport === aport && c.cport === bport && ipEquals(c.daddr, a) && ipEquals(c.caddr, b);
  }

  private hashOf(c: IpvsConn): number {
    return this.side === 'in' ? c.inHash : c.outHash;
  }

  private next(c: IpvsConn): IpvsConn | undefined {
    return this.side === 'in' ? c.nextIn : c.nextOut;
  }

  private setNext(c: IpvsConn, n: IpvsConn | undefined): void {
    if (this.side === 'in') c.nextIn = n;
    else c.nextOut = n;
  }

  get(hash: number, proto: IpvsProtocol, a: IP, aport: number, b: IP, bport: number): IpvsConn | undefined {
    for (let c = this.heads[hash & this.mask]; c; c = this.next(c))
      if (this.hashOf(c) === hash && this.same(c, proto, a, aport, b, bport)) return c;
    return undefined;
  }

  /** Map.set: `c` (its hash for this side already set) becomes what its key finds (an entry with an equal key leaves the index). */
  set(hash: number, c: IpvsConn, a: IP, aport: number, b: IP, bport: number): void {
    const old = this.get(hash, c.protocol, a, aport, b, bport);
    if (old) this.remove(hash, old);
    if (++this.count > this.mask + 1) this.grow();
    const i = hash & this.mask;
    this.setNext(c, this.heads[i]);
    this.heads[i] = c;
  }

  /** Removes `c` if it is in the index (what `if (map.get(key) === c) map.delete(key)` did). */
  remove(hash: number, c: IpvsConn): void {
    const i = hash & this.mask;
    let prev: IpvsConn | undefined;
    for (let s = this.heads[i]; s; prev = s, s = this.next(s)) {
      if (s !== c) continue;
      const n = this.next(s);
      if (prev) this.setNext(prev, n);
      else this.heads[i] = n;
      this.setNext(s, undefined);
      this.count--;
      return;
    }
  }

  /** Twice the buckets, every entry linked again (chain order within a bucket is not observable). */
  private grow(): void {
    const old = this.heads;
    const n = old.length * 2;
    this.heads = emptyBuckets(n);
    this.mask = n - 1;
    for (let b = 0; b < old.length; b++) {
      for (let c = old[b]; c; ) {
        const next = this.next(c);
        const i = this.hashOf(c) & this.mask;
        this.setNext(c, this.heads[i]);
        this.heads[i] = c;
        c = next;
      }
    }
  }
}

/** What expire returns when no timer is due (shared and frozen: callers only read it). */
const NONE_DUE = Object.freeze([]) as unknown as IpvsConn[];

/** The connection table of one node. */
export class IpvsConnTable {
  private nextId = 1;
  /** Live entries (each has exactly one live timer slot: list() finds them there). */
  private live = 0;
  /** Normal connections by client tuple, by real-server tuple, and templates by their key. */
  private readonly byIn = new ConnIndex('in');
  private readonly byOut = new ConnIndex('out');
  private readonly templates = new ConnIndex('in');
  /**
   * The timers: slots (expiry, entry) in one FIFO per timeout (timer-queues.ts), the keys arrays of
   * numbers V8 stores unboxed, so a timer costs no object. A packet that moves an expiry later
   * leaves the old slot in place (it is re-pushed when popped); one that moves it earlier pushes a
   * new slot.
   */
  private readonly timers = new TimerQueues<IpvsConn>();

  get size(): number {
    return this.live;
  }

  create(init: {
    protocol: IpvsProtocol;
    caddr: IP;
    cport: number;
    vaddr: IP;
    vport: number;
    daddr: IP;
    dport: number;
    dest: IpvsDest;
    serviceKey: string;
    template: boolean;
    noOutput: boolean;
    nfct: boolean;
    now: number;
    timeoutMs: number;
  }): IpvsConn {
    const c = new IpvsConn(
      this.nextId++,
      init.protocol,
      init.caddr,
      init.cport,
      init.vaddr,
      init.vport,
      init.daddr,
      init.dport,
      init.dest,
      init.serviceKey,
      init.template,
      init.noOutput,
      init.nfct,
      init.now,
      init.timeoutMs,
    );
    this.live++;
    c.inHash = connKeyHash(c.protocol, c.caddr, c.cport, c.vaddr, c.vport);
    if (c.template) this.templates.set(c.inHash, c, c.caddr, c.cport, c.vaddr, c.vport);
    else {
      c.outHash = connKeyHash(c.protocol, c.daddr, c.dport, c.caddr, c.cport);
      this.byIn.set(c.inHash, c, c.caddr, c.cport, c.vaddr, c.vport);
      this.byOut.set(c.outHash, c, c.daddr, c.dport, c.caddr, c.cport);
    }
    // ip_vs_bind_dest: templates count in persistconns, others start inactive.
    const d = c.dest;
    if (c.template) d.persistConns++;
    else d.inactConns++;
    d.afterBind();
    this.rearmed(c);
    return c;
  }

  /** ip_vs_conn_in_get: the connection of a client->VIP packet. */
  getIn(proto: IpvsProtocol, caddr: IP, cport: number, vaddr: IP, vport: number): IpvsConn | undefined {
    return this.byIn.get(connKeyHash(proto, caddr, cport, vaddr, vport), proto, caddr, cport, vaddr, vport);
  }

  /** ip_vs_conn_out_get: the connection of a real-server->client packet. */
  getOut(proto: IpvsProtocol, raddr: IP, rport: number, caddr: IP, cport: number): IpvsConn | undefined {
    return this.byOut.get(connKeyHash(proto, raddr, rport, caddr, cport), proto, raddr, rport, caddr, cport);
  }

  /** ip_vs_ct_in_get: a persistence template. */
  getTemplate(proto: IpvsProtocol, cnet: IP, vaddr: IP, vport: number): IpvsConn | undefined {
    return this.templates.get(connKeyHash(proto, cnet, 0, vaddr, vport), proto, cnet, 0, vaddr, vport);
  }

  /** ip_vs_check_template failed: the template can no longer be found (ports 0xffff), it waits for its timer. */
  invalidate(t: IpvsConn): void {
    this.templates.remove(t.inHash, t);
    t.invalid = true;
    t.vport = 0xffff;
    t.cport = 0;
  }

  /** Note a timer restart (call after changing expiresAt). */
  rearmed(c: IpvsConn): void {
    const at = c.expiresAt;
    if (at < (c.armed ? c.heapKey : Number.POSITIVE_INFINITY)) {
      c.armed = true;
      c.heapKey = at;
      this.timers.push(at, c.timeoutMs, c);
    }
  }

  /**
   * Run every timer due at `now`, in expiry order (ip_vs_conn_expire). A template still controlling
   * connections is re-armed with a 60 s timeout; anything else is unlinked, unbound from its dest
   * and released from its template. Returns the entries removed.
   */
  expire(now: number): IpvsConn[] {
    const timers = this.timers;
    // Nothing due (every packet runs the timers first): no array.
    if (timers.nextKey > now) return NONE_DUE;
    const removed: IpvsConn[] = [];
    while (timers.nextKey <= now) {
      const key = timers.nextKey;
      const c = timers.pop();
      if (c.dead || !c.armed || key !== c.heapKey) continue; // a stale slot
      c.armed = false;
      if (c.expiresAt > key) {
        // Restarted since: wait for the new time.
        this.rearmed(c);
        continue;
      }
      if (c.nControl > 0) {
        // expire_later: cp->timeout = 60*HZ and the timer restarts from when it fired.
        c.timeoutMs = 60_000;
        c.expiresAt = key + 60_000;
        this.rearmed(c);
        continue;
      }
      this.remove(c);
      removed.push(c);
    }
    return removed;
  }

  /** ip_vs_conn_expire_now + unlink: take an entry out at once. */
  remove(c: IpvsConn): void {
    if (c.dead) return;
    c.dead = true;
    this.live--;
    if (c.template) this.templates.remove(c.inHash, c);
    else {
      this.byIn.remove(c.inHash, c);
      this.byOut.remove(c.outHash, c);
    }
    // ip_vs_unbind_dest
    const d = c.dest;
    if (c.template) d.persistConns--;
    else if (c.inactive) d.inactConns--;
    else d.activeConns--;
    d.afterUnbind();
    if (c.control) {
      c.control.nControl--;
      c.control = undefined;
    }
  }

  /** Live entries in creation order (templates included). */
  list(): IpvsConn[] {
    // Every live entry has one live timer slot (armed, at its heapKey); the ids give the order.
    const live = new Set<IpvsConn>();
    for (const c of this.timers.items()) if (!c.dead && c.armed) live.add(c);
    return [...live].sort((a, b) => a.id - b.id);
  }

  /**
   * Live entries in the order the kernel lists them (/proc/net/ip_vs_conn, `ipvsadm -Lnc`): by hash
   * bucket, each bucket newest first (conn-hash.ts).
   */
  listed(keys: ConnHashKeys, tabSize: number): IpvsConn[] {
    const keyed = this.list().map((c) => ({ c, b: connBucket(keys, c.protocol, c.caddr, c.cport, tabSize) }));
    keyed.sort((x, y) => x.b - y.b || y.c.id - x.c.id);
    return keyed.map((x) => x.c);
  }

  /** Whether any entry still references a dest (the kernel's refcnt on a trashed dest). */
  references(d: IpvsDest): boolean {
    return d.activeConns + d.inactConns + d.persistConns > 0;
  }
}
