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
  /**
   * expiresAt and heapKey, split (split-time.ts). No creation time: nothing the kernel shows reads
   * one (ip_vs_conn has none), and each entry waits ~120 s in TIME_WAIT, so 16 bytes less apiece.
   */
  private expHi: number;
  private expLo: number;
  private heapHi = 0;
  private heapLo = 0;
  nControl = 0;
  control: IpvsConn | undefined;
  /**
   * Its hash in the connection table (ip_vs_conn_hashkey_conn: protocol, client address and client
   * port; a template's client network and port 0), set by the table.
   */
  hash = -1;
  /** The next (older) entry in the same bucket of the connection table (c_list). */
  next: IpvsConn | undefined = undefined;
  /** The timers' handle of its live slot (meaningful while `armed`; -1: none to release). */
  slot = -1;

  constructor(
    readonly id: number,
    readonly protocol: IpvsProtocol,
    public caddr: IP,
    public cport: number,
    public vaddr: IP,
    public vport: number,
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

  /** The key of this entry's live slot in the timer heap (meaningful while `armed`). */
  get heapKey(): number {
    return timeOf(this.heapHi, this.heapLo);
  }

  set heapKey(t: number) {
    const hi = timeHi(t);
    this.heapHi = hi;
    this.heapLo = timeLo(t, hi);
  }

  /** The real server's address (cp->daddr): its dest's, read through it (one field less per entry). */
  get daddr(): IP {
    return this.dest.ip;
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
 * The hash of a bucket key (protocol, client address, client port): 30 bits, a V8 small integer, so
 * the table needs no key string per packet. kpath's own mix, not the kernel's jhash (conn-hash.ts
 * restates that one for the listing order): the bucket an entry sits in is not observable, only
 * which entries share one and their order within it.
 */
function connKeyHash(proto: IpvsProtocol, addr: IP, port: number): number {
  // The address spread by a multiply, the port and protocol in the low bits, then murmur3's fmix32,
  // so every input bit reaches the low bits the bucket index takes (one client's ports spread evenly).
  let h = Math.imul(ipHash(addr), 0x9e3779b1) ^ ((PROTO_CODE[proto] << 16) | (port & 0xffff));
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

/** Buckets the table starts with; it doubles them when it holds more entries than half its buckets. */
const INITIAL_BUCKETS = 1024;

function emptyBuckets(n: number): (IpvsConn | undefined)[] {
  return new Array<IpvsConn | undefined>(n).fill(undefined);
}

/**
 * ip_vs_conn_tab: every entry once, connections and templates alike, hashed by protocol, client
 * address and client port (ip_vs_conn_hash; a template by its client network and port 0), each
 * bucket a chain through the entries, newest first (hlist_add_head_rcu). Every lookup hashes the
 * client side of its packet and compares along that one chain, so the first match is the newest.
 * A reply's lookup (ip_vs_conn_out_get) lands in the bucket of the client it goes to; the same
 * lookup for a client -> virtual service packet (ip_vs_out runs first on LOCAL_OUT and LOCAL_IN)
 * lands in the virtual address and port's bucket, where no client's connection is. Unlike the
 * kernel's fixed 4096 buckets, the table doubles as it fills (kept at most half full: ~1.4 entries
 * per bucket a lookup meets); a chain keeps its order, and which entries share a bucket is not
 * observable.
 */
class ConnTab {
  private heads: (IpvsConn | undefined)[] = emptyBuckets(INITIAL_BUCKETS);
  private mask = INITIAL_BUCKETS - 1;
  private count = 0;

  /** ip_vs_conn_hash: link `c` (its hash set) at the head of its bucket. */
  add(c: IpvsConn): void {
    if (++this.count * 2 > this.mask + 1) this.grow();
    const i = c.hash & this.mask;
    c.next = this.heads[i];
    this.heads[i] = c;
  }

  /** ip_vs_conn_unhash: unlink `c` if it is linked. */
  remove(c: IpvsConn): void {
    const i = c.hash & this.mask;
    let prev: IpvsConn | undefined;
    for (let s = this.heads[i]; s; prev = s, s = s.next) {
      if (s !== c) continue;
      if (prev) prev.next = s.next;
      else this.heads[i] = s.next;
      s.next = undefined;
      this.count--;
      return;
    }
  }

  /**
   * __ip_vs_conn_in_get: the newest connection (not a template) with this client and virtual
   * address and port. ip_vs_conn_in_get's second try with client port 0 is for connections made
   * without a client port (IP_VS_CONN_F_NO_CPORT: FTP's data connections), which kpath does not make.
   */
  getIn(proto: IpvsProtocol, caddr: IP, cport: number, vaddr: IP, vport: number): IpvsConn | undefined {
    for (let c = this.heads[connKeyHash(proto, caddr, cport) & this.mask]; c; c = c.next)
      if (
        c.cport === cport &&
        c.vport === vport &&
        c.protocol === proto &&
        !c.template &&
        ipEquals(c.caddr, caddr) &&
        ipEquals(c.vaddr, vaddr)
      )
        return c;
    return undefined;
  }

  /**
   * ip_vs_conn_out_get: the newest connection (not a template) whose real server is (raddr, rport)
   * and whose client is (caddr, cport): the bucket of the packet's destination, the client.
   */
  getOut(proto: IpvsProtocol, raddr: IP, rport: number, caddr: IP, cport: number): IpvsConn | undefined {
    for (let c = this.heads[connKeyHash(proto, caddr, cport) & this.mask]; c; c = c.next)
      if (
        c.cport === cport &&
        c.dport === rport &&
        c.protocol === proto &&
        !c.template &&
        ipEquals(c.caddr, caddr) &&
        ipEquals(c.daddr, raddr)
      )
        return c;
    return undefined;
  }

  /** ip_vs_ct_in_get: the newest template of (client network, port 0, virtual address and port). */
  getTemplate(proto: IpvsProtocol, cnet: IP, vaddr: IP, vport: number): IpvsConn | undefined {
    for (let c = this.heads[connKeyHash(proto, cnet, 0) & this.mask]; c; c = c.next)
      if (
        c.template &&
        c.cport === 0 &&
        c.vport === vport &&
        c.protocol === proto &&
        ipEquals(c.caddr, cnet) &&
        ipEquals(c.vaddr, vaddr)
      )
        return c;
    return undefined;
  }

  /**
   * Twice the buckets. An old bucket's entries go to two new ones (its index, and that plus the old
   * size); each is appended at the tail of its new chain, so every chain keeps its newest-first order.
   */
  private grow(): void {
    const old = this.heads;
    const n = old.length;
    const heads = emptyBuckets(n * 2);
    const mask = n * 2 - 1;
    for (let b = 0; b < n; b++) {
      let lo: IpvsConn | undefined;
      let hi: IpvsConn | undefined;
      for (let c = old[b]; c; ) {
        const next = c.next;
        c.next = undefined;
        const i = c.hash & mask;
        if (i === b) {
          if (lo) lo.next = c;
          else heads[i] = c;
          lo = c;
        } else {
          if (hi) hi.next = c;
          else heads[i] = c;
          hi = c;
        }
        c = next;
      }
    }
    this.heads = heads;
    this.mask = mask;
  }
}

/** A squeeze of the timers moved an entry's slot: its handle follows if that is its live slot. */
function slotMoved(c: IpvsConn, from: number, to: number): void {
  if (c.slot === from) c.slot = to;
}

/** What expire returns when no timer is due (shared and frozen: callers only read it). */
const NONE_DUE = Object.freeze([]) as unknown as IpvsConn[];

/** The connection table of one node. */
export class IpvsConnTable {
  private nextId = 1;
  /** Live entries (each has exactly one live timer slot: list() finds them there). */
  private live = 0;
  /** ip_vs_conn_tab: every live entry, hashed by its client side. */
  private readonly tab = new ConnTab();
  /**
   * The timers: slots (expiry, entry) in one FIFO per timeout (timer-queues.ts), the keys arrays of
   * numbers V8 stores unboxed, so a timer costs no object. A packet that moves an expiry later
   * leaves the old slot in place (it is re-pushed when popped); one that moves it earlier pushes a
   * new slot.
   */
  private readonly timers = new TimerQueues<IpvsConn>(slotMoved);
  /**
   * The last answer of getIn and of getOut, and the entry create made last: a packet's lookup is
   * answered from these before hashing, when the entry matches it and nothing was linked since (a
   * proxied connection's handshake and close are walked back to back, so the SYN-ACK, the ACK and the
   * close's FIN-ACK and ACK find their entry here). An entry the chain lists before them would have
   * to be newer, and a create resets both; each lookup keeps its own, because the newest entry one
   * kind of key matches need not be the newest another kind matches (two services, one real server:
   * getIn finds the older connection for its virtual address, getOut the newer for the same reply).
   */
  private lastIn: IpvsConn | undefined = undefined;
  private lastOut: IpvsConn | undefined = undefined;

  get size(): number {
    return this.live;
  }

  /** Timer slots held (live, and released or stale ones not yet dropped): at most ~2x size plus 1,024 per FIFO. */
  get timerSlots(): number {
    return this.timers.size;
  }

  /**
   * ip_vs_conn_new: an entry for `dest` (its address; `dport` the real server's port), hashed into
   * the table, bound to the dest and with its timer armed (`arm` false: the caller arms it with
   * `rearmed` before time moves on, once the first packet has set its state and timeout, which
   * restarts the kernel's 3 s timer before it can fire; its slot is then that timeout's, not a 3 s
   * one that would come due only to be pushed again).
   */
  create(
    protocol: IpvsProtocol,
    caddr: IP,
    cport: number,
    vaddr: IP,
    vport: number,
    dest: IpvsDest,
    dport: number,
    serviceKey: string,
    template: boolean,
    noOutput: boolean,
    nfct: boolean,
    now: number,
    timeoutMs: number,
    arm = true,
  ): IpvsConn {
    const c = new IpvsConn(
      this.nextId++,
      protocol,
      caddr,
      cport,
      vaddr,
      vport,
      dport,
      dest,
      serviceKey,
      template,
      noOutput,
      nfct,
      now,
      timeoutMs,
    );
    this.live++;
    c.hash = connKeyHash(c.protocol, c.caddr, c.cport);
    this.tab.add(c);
    // The newest entry of its chain: what any lookup it matches answers (templates match neither).
    if (!template) {
      this.lastIn = c;
      this.lastOut = c;
    }
    // ip_vs_bind_dest: templates count in persistconns, others start inactive.
    const d = c.dest;
    if (c.template) d.persistConns++;
    else d.inactConns++;
    d.afterBind();
    if (arm) this.rearmed(c);
    return c;
  }

  /** ip_vs_conn_in_get: the connection of a client->VIP packet. */
  getIn(proto: IpvsProtocol, caddr: IP, cport: number, vaddr: IP, vport: number): IpvsConn | undefined {
    const m = this.lastIn;
    if (
      m !== undefined &&
      m.cport === cport &&
      m.vport === vport &&
      m.protocol === proto &&
      ipEquals(m.caddr, caddr) &&
      ipEquals(m.vaddr, vaddr)
    )
      return m;
    const c = this.tab.getIn(proto, caddr, cport, vaddr, vport);
    if (c !== undefined) this.lastIn = c;
    return c;
  }

  /** ip_vs_conn_out_get: the connection of a real-server->client packet. */
  getOut(proto: IpvsProtocol, raddr: IP, rport: number, caddr: IP, cport: number): IpvsConn | undefined {
    const m = this.lastOut;
    if (
      m !== undefined &&
      m.cport === cport &&
      m.dport === rport &&
      m.protocol === proto &&
      ipEquals(m.caddr, caddr) &&
      ipEquals(m.daddr, raddr)
    )
      return m;
    const c = this.tab.getOut(proto, raddr, rport, caddr, cport);
    if (c !== undefined) this.lastOut = c;
    return c;
  }

  /** ip_vs_ct_in_get: a persistence template. */
  getTemplate(proto: IpvsProtocol, cnet: IP, vaddr: IP, vport: number): IpvsConn | undefined {
    return this.tab.getTemplate(proto, cnet, vaddr, vport);
  }

  /** ip_vs_check_template failed: the template can no longer be found (ports 0xffff), it waits for its timer. */
  invalidate(t: IpvsConn): void {
    this.tab.remove(t);
    t.invalid = true;
    t.vport = 0xffff;
    t.cport = 0;
  }

  /** Note a timer restart (call after changing expiresAt). */
  rearmed(c: IpvsConn): void {
    const at = c.expiresAt;
    if (at < (c.armed ? c.heapKey : Number.POSITIVE_INFINITY)) {
      // The later slot it leaves would only pop stale: it lets go of the entry now (mod_timer moves
      // the kernel's one timer; a keepalive connection's 900 s slot no longer holds it after close).
      if (c.armed) this.timers.release(c.slot, c);
      c.armed = true;
      c.heapKey = at;
      c.slot = this.timers.push(at, c.timeoutMs, c);
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
    // Most slots that come due are released or stale (a reused client port removed its entry): the
    // array only once an entry goes.
    let removed: IpvsConn[] | undefined;
    while (timers.nextKey <= now) {
      const key = timers.nextKey;
      const c = timers.pop();
      if (c === undefined || c.dead || !c.armed || key !== c.heapKey) continue; // released, or stale
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
      if (removed) removed.push(c);
      else removed = [c];
    }
    return removed ?? NONE_DUE;
  }

  /** ip_vs_conn_expire_now + unlink: take an entry out at once. */
  remove(c: IpvsConn): void {
    if (c.dead) return;
    c.dead = true;
    this.live--;
    if (this.lastIn === c) this.lastIn = undefined;
    if (this.lastOut === c) this.lastOut = undefined;
    // The timer goes with it (ip_vs_conn_expire frees the entry): its slot lets go of the entry now,
    // not when it comes due (up to the TIME_WAIT timeout later for a reused client port).
    if (c.armed) this.timers.release(c.slot, c);
    this.tab.remove(c);
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
