/**
 * The conntrack table of one node (nf_conntrack_core.c): lookup of a packet in either direction,
 * creation of unconfirmed entries, the explicit confirm step, NAT setup, protocol trackers, expiry
 * from `now`, the nf_conntrack_max limit with early drop, deletion filters and flush.
 *
 * Nothing here throws for traffic: every packet gets a `CtResult` value.
 */
import type { Packet } from '../packet.js';
import { SYN } from '../packet.js';
import type { Rng } from '../rng.js';
import type { ConntrackEntryView } from './entry.js';
import { CtEntry } from './entry.js';
import { ExpiryQueues } from './expiry.js';
import type { ConntrackFilter } from './filter.js';
import { matchesFilter } from './filter.js';
import type { NatManip, NatRange } from './nat.js';
import { chooseNatTuple, NF_NAT_HARDER_THRESH, randomAll, sameSourceCandidate, tupleInRange } from './nat.js';
import { SlotRing } from './slot-ring.js';
import type { CtDirection, CtInfo, CtState } from './status.js';
import { CtStatus, ctinfoState } from './status.js';
import type { ConntrackSysctls } from './sysctls.js';
import { conntrackSysctls } from './sysctls.js';
import { tcpFlagIndex, tcpFlagsValid, tcpStateOrder, tcpStateTimeout, tcpTableNext } from './tcp.js';
import { originatorSeqEnd, seqHasAdvanced } from './tcp-seq.js';
import type { Tuple } from './tuple.js';
import { icmpIsError, icmpValidNew, invertTuple, isIcmp, tupleEquals, tupleOf } from './tuple.js';
import { hashOfTuple, sameSource, sourceHash, TupleIndex } from './tuple-index.js';

/** The kernel's log line when the table is full and nothing could be evicted. */
export const TABLE_FULL_MESSAGE = 'nf_conntrack: table full, dropping packet';

/** What conntrack made of one packet. */
export type CtResult =
  | {
      readonly kind: 'tracked';
      readonly ctinfo: CtInfo;
      readonly ctstate: CtState;
      readonly dir: CtDirection;
      readonly entry: ConntrackEntryView;
      /** The entry was created by this packet and is unconfirmed until `confirm`. */
      readonly created: boolean;
    }
  | { readonly kind: 'invalid'; readonly ctstate: 'INVALID'; readonly reason: string }
  | { readonly kind: 'untracked'; readonly ctstate: 'UNTRACKED' }
  | { readonly kind: 'drop'; readonly reason: 'table-full'; readonly message: string };

export type ConfirmResult =
  | { readonly kind: 'confirmed'; readonly entry: ConntrackEntryView }
  | { readonly kind: 'drop'; readonly reason: 'clash' | 'dying'; readonly message: string };

export type NatSetupResult =
  | {
      readonly kind: 'mapped';
      readonly changed: boolean;
      readonly reply: Tuple;
      /**
       * A closing TCP entry whose reply tuple the chosen port collided with, killed to free it
       * (Linux 6.5+ nf_nat_used_tuple_harder).
       */
      readonly evicted?: ConntrackEntryView;
    }
  /** The entry is confirmed or this manip was done already: the kernel leaves it alone. */
  | { readonly kind: 'unchanged'; readonly reason: 'confirmed' | 'already-done' };

export interface ProcessOptions {
  /** The raw table's NOTRACK / CT --notrack target hit this packet. */
  readonly notrack?: boolean;
  /**
   * For an ICMP error: the packet it quotes (the offending packet as it was sent). kpath packets do
   * not embed it, so the caller passes it here.
   */
  readonly icmpInner?: Packet;
}

export interface NatContext {
  readonly now: number;
  readonly rng: Rng;
  /** MASQUERADE: the output device, remembered so that its entries go when it goes down. */
  readonly masqueradeDevice?: string;
}

/** Counters like `conntrack -S` prints (found, invalid, insert_failed, drop, early_drop). */
export interface CtStats {
  found: number;
  invalid: number;
  insertFailed: number;
  drop: number;
  earlyDrop: number;
}

const EMPTY_ENTRIES: readonly CtEntry[] = [];

type FoundResult = Extract<CtResult, { kind: 'tracked' }>;
type MutableTuple = { -readonly [K in keyof Tuple]: Tuple[K] };

/** The live ring squeezed its holes out: entries learn their new slots. */
function movedLive(e: CtEntry, pos: number): void {
  e.liveSlot = pos;
}

function movedUnassured(e: CtEntry, pos: number): void {
  e.unassuredSlot = pos;
}

/** The free ring is never cleared by position, so never squeezed: nothing moves. */
function noMove(): void {}

/** Free entries kept at least (the free ring holds at most max(this, entries in the table)). */
const FREE_MIN = 1024;

/** Table ids for CtEntry.owner; 0 is no table. */
let nextTableId = 1;

type L4Verdict = 'ok' | 'ignore' | 'invalid' | 'reopen' | 'kill';

/** The protocol trackers' answers without a reason, shared (callers only read them). */
const L4_OK: { readonly v: L4Verdict; readonly reason: string } = { v: 'ok', reason: '' };
const L4_IGNORE: { readonly v: L4Verdict; readonly reason: string } = { v: 'ignore', reason: '' };
const L4_REOPEN: { readonly v: L4Verdict; readonly reason: string } = { v: 'reopen', reason: '' };
const L4_KILL: { readonly v: L4Verdict; readonly reason: string } = { v: 'kill', reason: '' };

export class ConntrackTable {
  private values: ConntrackSysctls;
  private nextId = 1;
  /**
   * Confirmed entries in confirm order, each at its CtEntry.liveSlot (slot-ring.ts): a removal clears
   * its slot and reads no other entry (a linked list's unlink loaded both neighbours, cold at table
   * sizes).
   */
  private readonly live = new SlotRing<CtEntry>(false, 0.5, movedLive);
  /** Entries in `live`. */
  private liveCount = 0;
  /** The confirmed entries' expiry timers, for gc (expiry.ts). */
  private readonly expiry = new ExpiryQueues();
  /** Both tuples of every confirmed entry (a Map by tupleKey, without the strings: tuple-index.ts). */
  private readonly byTuple = new TupleIndex();
  /** Confirmed entries without ASSURED, oldest first: early_drop's candidates (a ring like `live`). */
  private readonly unassured = new SlotRing<CtEntry>(false, 0.5, movedUnassured);
  /**
   * SNAT'd entries by sourceHash of the original tuple (nf_nat_bysource), in confirm order: one entry
   * alone (the usual case: a masqueraded source port is one flow), an array when several share the
   * hash. Entries of different sources may share a hash: readers compare with sameSource.
   *
   * Only a source manip without --random/--random-fully whose tuple is outside its range reads it
   * (find_appropriate_src); kube-proxy's, flannel's and calico's MASQUERADE --random-fully and the
   * null bindings of un-NATed flows never do, yet every one of those entries is SNAT'd. So the index
   * is built on its first read, from the table in confirm order (the order it would have had), and
   * kept from then on: until then a connection costs no Map insert and delete.
   */
  private readonly bySource = new Map<number, CtEntry | CtEntry[]>();
  private bySourceKept = false;
  /** Stamped on every entry this table creates (CtEntry.owner). */
  private readonly tableId = nextTableId++;
  /** invertedReply's tuple. */
  private inverted: MutableTuple | undefined = undefined;
  /** process()'s last result for an entry it found, by direction (ORIGINAL, REPLY). */
  private readonly lastFound: (FoundResult | undefined)[] = [undefined, undefined];
  private readonly stats: CtStats = { found: 0, invalid: 0, insertFailed: 0, drop: 0, earlyDrop: 0 };
  /**
   * Recycling (`recycle`): dead TCP/UDP/SCTP entries that were confirmed, oldest death first, each
   * keyed by the clock reading it died at; undefined when the table does not recycle.
   */
  private free: SlotRing<CtEntry> | undefined = undefined;
  /** The latest clock reading the table was called with: a death's time, for `free`. */
  private seen = Number.NEGATIVE_INFINITY;
  /** The clock of the setupNat call under way, for `taken`. */
  private takenNow = 0;
  /** The unconfirmed entry of the setupNat call under way (the kernel's ignored_conntrack). */
  private takenFor: CtEntry | undefined = undefined;
  /** The entry `taken` evicted during the setupNat call under way. */
  private evicted: CtEntry | undefined = undefined;
  /** The keyed-hash secret of the originators' initial sequence numbers (tcp-seq.ts). */
  private readonly isnSecret: number;
  /**
   * nf_nat_used_tuple for chooseNatTuple: whether a candidate tuple (the original direction after
   * the manip) is the reply of an unexpired entry. With `attemptsLeft` (the port search), Linux
   * 6.5+'s nf_nat_used_tuple_harder. Made once per table, not a closure per call.
   */
  private readonly taken = (cand: Tuple, attemptsLeft?: number): boolean => {
    if (
      attemptsLeft !== undefined &&
      attemptsLeft <= NF_NAT_HARDER_THRESH &&
      cand.proto === 'tcp' &&
      this.takenFor?.tcpState === 'SYN_SENT'
    )
      return this.takenHarder(cand, this.takenFor);
    if (!isIcmp(cand.proto))
      return this.unexpired(this.byTuple.getInverse(cand), this.takenNow) !== undefined;
    const rep = invertTuple(cand);
    return (
      rep !== undefined &&
      this.unexpired(this.byTuple.get(rep, hashOfTuple(rep)), this.takenNow) !== undefined
    );
  };

  /**
   * `isnSecret`: the secret of the originators' ISN hash (net_secret), from which the TCP sequence
   * test of SNAT port reuse is derived (tcp-seq.ts); any fixed number, so runs repeat.
   */
  constructor(opts: { sysctls?: Partial<ConntrackSysctls>; isnSecret?: number; recycle?: boolean } = {}) {
    this.values = conntrackSysctls(opts.sysctls);
    this.isnSecret = (opts.isnSecret ?? 0x6b706174) | 0;
    if (opts.recycle) this.recycle(true);
  }

  /**
   * Recycle dead entries: a confirmed TCP/UDP/SCTP entry that dies (expired, deleted, replaced by a
   * new SYN on its port, evicted) is kept, with its two tuples, and becomes the next new entry once
   * the clock has moved past the reading it died at, instead of a new object. Nothing observable
   * changes for the table (listings, ids, counts, statistics, NAT choices: test/conntrack/
   * recycle.test.ts), but an entry view is only the old flow's until it dies: a reused entry has a
   * new `id` (the generation to compare), new tuples and state. For callers that keep no view past a
   * dead entry's death and a later packet, like the proxy runtime (proxy/runtime/modes/iptables.ts):
   * there ~30,000 entries live 120 s in TIME_WAIT, and each one that is not a new object is one
   * object fewer for V8 to copy out of the young generation, promote and mark (a connection's entry
   * and tuples were nearly all the bytes its walks allocated). Off: dead entries are left to the
   * garbage collector (the default; anything may keep a view).
   */
  recycle(on: boolean): void {
    if (!on) this.free = undefined;
    else if (this.free === undefined) this.free = new SlotRing<CtEntry>(true, 1, noMove);
  }

  get sysctls(): ConntrackSysctls {
    return this.values;
  }

  /**
   * `sysctl -w net.netfilter.NAME=VALUE` (what kube-proxy does at startup for nf_conntrack_max):
   * entries already in the table stay; a lower nf_conntrack_max only refuses new ones.
   */
  setSysctls(overrides: Partial<ConntrackSysctls>): void {
    this.values = conntrackSysctls({ ...this.values, ...overrides });
  }

  /** Entries in the table, expired ones included until `gc` or a lookup removes them. */
  get size(): number {
    return this.liveCount;
  }

  statistics(): Readonly<CtStats> {
    return { ...this.stats };
  }

  // ---- packets -------------------------------------------------------------------------------

  /** nf_conntrack_in for one packet at PREROUTING or OUTPUT. */
  process(p: Packet, now: number, opts: ProcessOptions = {}): CtResult {
    if (now > this.seen) this.seen = now;
    if (opts.notrack) return { kind: 'untracked', ctstate: 'UNTRACKED' };
    if (isIcmp(p.proto) && p.icmp && icmpIsError(p.proto, p.icmp.type))
      return this.related(p, now, opts.icmpInner);
    if (p.proto === 'tcp' && !tcpFlagsValid(p.tcp ?? SYN))
      return this.invalid('invalid tcp flag combination');
    const e = this.unexpired(this.byTuple.getPacket(p), now);
    if (!e) return this.create(p, now);
    const dir = this.byTuple.hitDir;
    this.stats.found++;
    const ctinfo: CtInfo =
      dir === 'REPLY' ? 'ESTABLISHED_REPLY' : e.has(CtStatus.SEEN_REPLY) ? 'ESTABLISHED' : 'NEW';
    const verdict = this.l4(e, dir, p, now);
    switch (verdict.v) {
      case 'invalid':
        return this.invalid(verdict.reason);
      case 'reopen':
        this.kill(e);
        return this.process(p, now, opts);
      case 'kill':
        this.kill(e);
        break;
      case 'ignore':
      case 'ok':
        break;
    }
    if (dir === 'REPLY' && !e.has(CtStatus.SEEN_REPLY)) e.status |= CtStatus.SEEN_REPLY;
    // A result is a value: the last one per direction is given again when it says the same (a
    // connection's close asks with the same entry, direction and ctinfo as its handshake did).
    const di = dir === 'REPLY' ? 1 : 0;
    const last = this.lastFound[di];
    if (last !== undefined && last.entry === e && last.ctinfo === ctinfo) return last;
    const r: FoundResult = {
      kind: 'tracked',
      ctinfo,
      ctstate: ctinfoState(ctinfo),
      dir,
      entry: e,
      created: false,
    };
    this.lastFound[di] = r;
    return r;
  }

  /** The entry and direction of a tuple (or a packet's tuple), ignoring expired entries. */
  lookup(t: Tuple | Packet, now: number): { entry: ConntrackEntryView; dir: CtDirection } | undefined {
    if (now > this.seen) this.seen = now;
    const e = this.unexpired(
      'length' in t ? this.byTuple.getPacket(t) : this.byTuple.get(t, hashOfTuple(t)),
      now,
    );
    return e ? { entry: e, dir: this.byTuple.hitDir } : undefined;
  }

  /**
   * __nf_conntrack_confirm: insert an entry created by `process` once its first packet leaves
   * POSTROUTING or INPUT. Confirming twice is harmless (a looped packet). A tuple that another entry
   * took meanwhile drops the packet (insert_failed).
   */
  confirm(view: ConntrackEntryView, now: number): ConfirmResult {
    if (now > this.seen) this.seen = now;
    const e = this.own(view);
    if (e.confirmed) return { kind: 'confirmed', entry: e };
    if (e.has(CtStatus.DYING)) {
      return { kind: 'drop', reason: 'dying', message: 'conntrack entry was killed before it was confirmed' };
    }
    const ko = hashOfTuple(e.original);
    const kr = hashOfTuple(e.reply);
    if (
      this.unexpired(this.byTuple.get(e.original, ko), now) ||
      this.unexpired(this.byTuple.get(e.reply, kr), now)
    ) {
      this.stats.insertFailed++;
      return {
        kind: 'drop',
        reason: 'clash',
        message: 'nf_conntrack: tuple already in table (insert_failed)',
      };
    }
    e.status |= CtStatus.CONFIRMED;
    e.expiresAt = now + e.pendingTimeout;
    this.expiry.restart(e, now, e.pendingTimeout);
    e.pendingTimeout = 0;
    this.linkLive(e);
    e.origHash = ko;
    e.replyHash = kr;
    this.byTuple.add(e);
    if (!e.has(CtStatus.ASSURED)) this.linkUnassured(e);
    if (this.bySourceKept && e.has(CtStatus.SRC_NAT_DONE)) this.addBySource(e);
    return { kind: 'confirmed', entry: e };
  }

  // ---- NAT -----------------------------------------------------------------------------------

  /** Whether the nat table must be consulted for this manip (a NEW flow not bound yet). */
  needsNat(view: ConntrackEntryView, manip: NatManip): boolean {
    const done = manip === 'SRC' ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;
    return (view.status & (CtStatus.CONFIRMED | done)) === 0;
  }

  /**
   * nf_nat_setup_info: bind a SNAT/MASQUERADE (SRC) or DNAT (DST) decision to an unconfirmed entry.
   * The reply tuple is rewritten so that replies find the entry; later packets follow it through
   * `translate` without the nat table.
   */
  setupNat(view: ConntrackEntryView, manip: NatManip, range: NatRange, ctx: NatContext): NatSetupResult {
    const e = this.own(view);
    if (e.confirmed) return { kind: 'unchanged', reason: 'confirmed' };
    const done = manip === 'SRC' ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;
    if (e.has(done)) return { kind: 'unchanged', reason: 'already-done' };
    const current = this.invertedReply(e.reply);
    if (!current) return { kind: 'unchanged', reason: 'already-done' };
    this.takenNow = ctx.now;
    if (ctx.now > this.seen) this.seen = ctx.now;
    let fromSameSource: Tuple | undefined;
    // get_unique_tuple consults the source mappings (find_appropriate_src) only for a source manip
    // without --random/--random-fully whose current tuple is outside the range (so never for
    // kube-proxy's MASQUERADE --random-fully): looked up only then, a cache miss at table sizes.
    if (manip === 'SRC' && !randomAll(range) && !tupleInRange(current, manip, range)) {
      if (!this.bySourceKept) {
        this.bySourceKept = true;
        for (const x of this.all()) if (x.has(CtStatus.SRC_NAT_DONE)) this.addBySource(x);
      }
      const had = this.bySource.get(sourceHash(current));
      const list = had === undefined ? EMPTY_ENTRIES : Array.isArray(had) ? had : [had];
      for (const other of list) {
        if (!sameSource(other.original, current)) continue;
        if (other.expiresAt <= ctx.now || other.has(CtStatus.DYING)) continue;
        fromSameSource = sameSourceCandidate(other.reply, current);
        break;
      }
    }
    this.takenFor = e;
    this.evicted = undefined;
    const chosen = chooseNatTuple(current, manip, range, this.taken, ctx.rng, fromSameSource);
    const evicted = this.evicted as CtEntry | undefined;
    this.takenFor = undefined;
    this.evicted = undefined;
    const changed = !tupleEquals(chosen, current);
    if (changed) {
      const own = e.ownReply;
      if (own !== undefined && e.reply === own && this.free !== undefined) {
        // Recycling: the entry's own reply tuple takes the new values (nothing else holds it but
        // views of this entry, which see its reply change either way).
        const r = own as MutableTuple;
        r.src = chosen.dst;
        r.dst = chosen.src;
        r.sport = chosen.dport;
        r.dport = chosen.sport;
      } else e.reply = invertTuple(chosen)!;
      e.status |= manip === 'SRC' ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
    }
    e.status |= done;
    if (ctx.masqueradeDevice !== undefined) e.masqueradeDevice = ctx.masqueradeDevice;
    return evicted
      ? { kind: 'mapped', changed, reply: e.reply, evicted }
      : { kind: 'mapped', changed, reply: e.reply };
  }

  /**
   * nf_nat_alloc_null_binding: no nat rule matched the first packet. The addresses stay, but a source
   * port that would clash with another entry's reply tuple is still moved.
   */
  nullBinding(view: ConntrackEntryView, manip: NatManip, ctx: NatContext): NatSetupResult {
    const ip = manip === 'SRC' ? view.reply.dst : view.reply.src;
    return this.setupNat(view, manip, { minAddr: ip, maxAddr: ip }, ctx);
  }

  /**
   * nf_conntrack_alter_reply: replace the reply tuple of an unconfirmed entry (IPVS with
   * net.ipv4.vs.conntrack sends the first packet to a real server and makes replies from it belong
   * to the entry). No effect on a confirmed entry, as in the kernel.
   */
  alterReply(view: ConntrackEntryView, reply: Tuple): boolean {
    const e = this.own(view);
    if (e.confirmed) return false;
    const own = e.ownReply;
    if (own !== undefined && this.free !== undefined && !isIcmp(reply.proto)) {
      // Recycling: the values go into the entry's own tuple (the caller's dies young instead of
      // living as long as the entry).
      const r = own as MutableTuple;
      r.family = reply.family;
      r.proto = reply.proto;
      r.src = reply.src;
      r.dst = reply.dst;
      r.sport = reply.sport;
      r.dport = reply.dport;
      e.reply = r;
    } else e.reply = reply;
    return true;
  }

  /**
   * Kill the entry a tuple (either direction) belongs to, as nf_conntrack_find_get + nf_ct_kill do
   * (IPVS's ip_vs_conn_drop_conntrack). Returns whether one went.
   */
  deleteTuple(t: Tuple, now: number): boolean {
    if (now > this.seen) this.seen = now;
    const hit = this.unexpired(this.byTuple.get(t, hashOfTuple(t)), now);
    if (!hit) return false;
    this.kill(hit);
    return true;
  }

  /** CONNMARK --set-mark and friends. */
  setMark(view: ConntrackEntryView, mark: number): void {
    this.own(view).mark = mark >>> 0;
  }

  // ---- housekeeping --------------------------------------------------------------------------

  /** Live entries in confirm order (expired ones skipped). */
  entries(now: number): ConntrackEntryView[] {
    const out: ConntrackEntryView[] = [];
    const live = this.live;
    for (let i = 0; i < live.length; i++) {
      const e = live.at(i);
      if (e !== undefined && e.expiresAt > now) out.push(e);
    }
    return out;
  }

  /** Every entry in the table in confirm order, expired ones too: a copy, for loops that kill. */
  private all(): CtEntry[] {
    const out: CtEntry[] = [];
    const live = this.live;
    for (let i = 0; i < live.length; i++) {
      const e = live.at(i);
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  /**
   * Remove expired entries; returns how many went. Reads only the entries whose timer slot is due
   * (expiry.ts): those expired, and those refreshed since with the same timeout, re-armed.
   */
  gc(now: number): number {
    if (now > this.seen) this.seen = now;
    let n = 0;
    const q = this.expiry;
    for (let e = q.popDue(now); e !== undefined; e = q.popDue(now)) {
      if (e.expiresAt <= now) {
        this.kill(e);
        n++;
      } else q.rearm(e, now);
    }
    const free = this.free;
    if (free !== undefined) {
      // A burst's dead entries do not stay once the table has shrunk: the oldest go to V8's gc.
      const keep = Math.max(FREE_MIN, this.liveCount);
      while (free.length > keep) free.shift();
    }
    return n;
  }

  /** `conntrack -D` with filters; returns the number of entries deleted. */
  delete(filter: ConntrackFilter, now: number): number {
    if (now > this.seen) this.seen = now;
    let n = 0;
    for (const e of this.all()) {
      if (e.expiresAt <= now) {
        this.kill(e);
        continue;
      }
      if (matchesFilter(e, filter)) {
        this.kill(e);
        n++;
      }
    }
    return n;
  }

  /** `conntrack -F`. */
  flush(): number {
    const n = this.liveCount;
    for (const e of this.all()) this.kill(e);
    return n;
  }

  /** The device a MASQUERADE binding used went down: forget its flows (nf_nat_masquerade). */
  flushMasquerade(device: string): number {
    let n = 0;
    for (const e of this.all()) {
      if (e.masqueradeDevice === device) {
        this.kill(e);
        n++;
      }
    }
    return n;
  }

  // ---- internals -----------------------------------------------------------------------------

  /**
   * nf_nat_used_tuple_harder's destructive half (the last NF_NAT_HARDER_THRESH attempts of a port
   * search for a new TCP connection in SYN_SENT): the candidate is free if no entry holds its reply
   * tuple, taken if one holds it as its original tuple, and freed by killing the holder when that
   * entry is closing (TIME_WAIT or later in the kernel's state order), SNAT'd, neither
   * FIXED_TIMEOUT nor DYING, and the new originator's sequence number has advanced past the old
   * one's (nf_nat_may_kill, nf_seq_has_advanced). kpath has no flow offload, so a killed entry
   * always frees the port.
   */
  private takenHarder(cand: Tuple, self: CtEntry): boolean {
    const hit = this.unexpired(this.byTuple.getInverse(cand), this.takenNow);
    if (!hit) return false;
    if (this.byTuple.hitDir === 'ORIGINAL' || hit === self) return true;
    if (tcpStateOrder(hit.tcpState ?? 'NONE') < tcpStateOrder('TIME_WAIT')) return true;
    if (hit.status & (CtStatus.FIXED_TIMEOUT | CtStatus.DYING)) return true;
    if (!hit.has(CtStatus.SRC_NAT)) return true;
    if (!seqHasAdvanced(originatorSeqEnd(hit, this.isnSecret), originatorSeqEnd(self, this.isnSecret)))
      return true;
    this.kill(hit);
    this.evicted = hit;
    return false;
  }

  /**
   * invertTuple(reply), for setupNat: for TCP/UDP/SCTP written into one tuple the table keeps, as
   * nothing setupNat passes it to keeps it (chooseNatTuple reads it, copies it into candidates, and
   * may hand it back, which setupNat then only compares).
   */
  private invertedReply(reply: Tuple): Tuple | undefined {
    if (isIcmp(reply.proto)) return invertTuple(reply);
    const c = this.inverted;
    if (c === undefined) {
      this.inverted = invertTuple(reply) as MutableTuple;
      return this.inverted;
    }
    c.family = reply.family;
    c.proto = reply.proto;
    c.src = reply.dst;
    c.dst = reply.src;
    c.sport = reply.dport;
    c.dport = reply.sport;
    return c;
  }

  /** Index a confirmed SNAT'd entry by its source (the newest last). */
  private addBySource(e: CtEntry): void {
    const k = sourceHash(e.original);
    e.srcHash = k;
    const had = this.bySource.get(k);
    if (had === undefined) this.bySource.set(k, e);
    else if (Array.isArray(had)) had.push(e);
    else this.bySource.set(k, [had, e]);
  }

  private own(view: ConntrackEntryView): CtEntry {
    if (!(view instanceof CtEntry) || view.owner !== this.tableId) {
      throw new Error('kpath internal error: conntrack entry does not belong to this table');
    }
    return view;
  }

  private invalid(reason: string): CtResult {
    this.stats.invalid++;
    return { kind: 'invalid', ctstate: 'INVALID', reason };
  }

  /** An entry found in byTuple (its direction in byTuple.hitDir), unless it has expired (then it goes now). */
  private unexpired(hit: CtEntry | undefined, now: number): CtEntry | undefined {
    if (!hit) return undefined;
    if (hit.expiresAt <= now) {
      this.kill(hit);
      return undefined;
    }
    return hit;
  }

  private kill(e: CtEntry): void {
    e.status |= CtStatus.DYING;
    if (e.liveSlot >= 0) {
      this.expiry.clear(e);
      this.unlinkLive(e);
      this.byTuple.remove(e);
      this.unlinkUnassured(e);
      const k = e.srcHash;
      const had = k < 0 ? undefined : this.bySource.get(k);
      if (had === e) this.bySource.delete(k);
      else if (Array.isArray(had)) {
        const i = had.indexOf(e);
        if (i >= 0) had.splice(i, 1);
        if (had.length === 1) this.bySource.set(k, had[0]!);
        else if (had.length === 0) this.bySource.delete(k);
      }
      const free = this.free;
      if (free !== undefined && e.ownReply !== undefined && free.length < Math.max(FREE_MIN, this.liveCount))
        free.push(e, this.seen);
    }
  }

  /** early_drop: evict the oldest entry that is not ASSURED. */
  private earlyDrop(now: number): boolean {
    const e = this.unassured.first();
    if (!e) return false;
    this.kill(e);
    if (e.expiresAt > now) this.stats.earlyDrop++;
    return true;
  }

  private create(p: Packet, now: number): CtResult {
    let t: Tuple | undefined;
    let reply: Tuple | undefined;
    if (isIcmp(p.proto)) {
      t = tupleOf(p);
      if (!icmpValidNew(p.proto, t.icmpType ?? -1)) {
        return this.invalid(`${p.proto} type ${t.icmpType} cannot start a connection`);
      }
      reply = invertTuple(t);
      if (!reply) return this.invalid('tuple cannot be inverted');
    }
    if (p.proto === 'tcp') {
      const next = tcpTableNext('ORIGINAL', tcpFlagIndex(p.tcp ?? SYN), 'NONE');
      if (next === 'IV' || next === 'IG')
        return this.invalid('invalid new: TCP packet cannot start a connection');
      if (next !== 'SYN_SENT' && this.sysctls.nf_conntrack_tcp_loose === 0) {
        return this.invalid('not a SYN and nf_conntrack_tcp_loose=0: no mid-stream pickup');
      }
    }
    const max = this.sysctls.nf_conntrack_max;
    if (max > 0 && this.liveCount >= max && !this.earlyDrop(now)) {
      this.stats.drop++;
      return { kind: 'drop', reason: 'table-full', message: TABLE_FULL_MESSAGE };
    }
    const acct = this.sysctls.nf_conntrack_acct === 1;
    let e: CtEntry;
    if (t !== undefined) e = new CtEntry(this.nextId++, t, reply!, now, acct);
    else {
      const free = this.free;
      if (free !== undefined && !free.empty && free.headKey < now)
        e = this.reuse(free.shift()!, p, now, acct);
      else {
        t = tupleOf(p);
        e = new CtEntry(this.nextId++, t, invertTuple(t)!, now, acct);
        if (free !== undefined) e.ownReply = e.reply;
      }
    }
    e.owner = this.tableId;
    this.l4(e, 'ORIGINAL', p, now);
    return { kind: 'tracked', ctinfo: 'NEW', ctstate: 'NEW', dir: 'ORIGINAL', entry: e, created: true };
  }

  /**
   * A free entry (recycling) made the entry of `p`'s new TCP/UDP/SCTP flow: its two tuples (its own)
   * rewritten as tupleOf(p) and its inverse. process()'s last results forget it.
   */
  private reuse(e: CtEntry, p: Packet, now: number, acct: boolean): CtEntry {
    e.reinit(this.nextId++, now, acct, p.proto === 'tcp');
    const o = e.original as MutableTuple;
    o.family = p.family;
    o.proto = p.proto;
    o.src = p.src;
    o.dst = p.dst;
    o.sport = p.sport;
    o.dport = p.dport;
    const r = e.ownReply as MutableTuple;
    r.family = p.family;
    r.proto = p.proto;
    r.src = p.dst;
    r.dst = p.src;
    r.sport = p.dport;
    r.dport = p.sport;
    e.reply = r;
    const last = this.lastFound;
    if (last[0]?.entry === e) last[0] = undefined;
    if (last[1]?.entry === e) last[1] = undefined;
    return e;
  }

  /** icmp_error_message: an ICMP error quoting a packet of a tracked flow is RELATED to it. */
  private related(p: Packet, now: number, inner: Packet | undefined): CtResult {
    if (!inner) return this.invalid('ICMP error without the quoted packet');
    const quoted = invertTuple(tupleOf(inner));
    const hit = quoted ? this.unexpired(this.byTuple.get(quoted, hashOfTuple(quoted)), now) : undefined;
    if (!hit) return this.invalid('ICMP error about an untracked flow');
    const dir = this.byTuple.hitDir;
    const ctinfo: CtInfo = dir === 'REPLY' ? 'RELATED_REPLY' : 'RELATED';
    void p;
    return { kind: 'tracked', ctinfo, ctstate: 'RELATED', dir, entry: hit, created: false };
  }

  /** nf_ct_refresh_acct. */
  private refresh(e: CtEntry, dir: CtDirection, p: Packet, now: number, seconds: number): void {
    if (e.confirmed) {
      e.expiresAt = now + seconds * 1000;
      this.expiry.restart(e, now, seconds * 1000);
    } else {
      e.pendingTimeout = seconds * 1000;
      e.expiresAt = now + seconds * 1000;
    }
    if (e.counters) {
      const c = dir === 'ORIGINAL' ? e.counters.original : e.counters.reply;
      c.packets++;
      c.bytes += p.length;
    }
  }

  private setAssured(e: CtEntry): void {
    e.status |= CtStatus.ASSURED;
    this.unlinkUnassured(e);
  }

  private linkLive(e: CtEntry): void {
    e.liveSlot = this.live.push(e);
    this.liveCount++;
  }

  private unlinkLive(e: CtEntry): void {
    this.live.clear(e.liveSlot);
    e.liveSlot = -1;
    this.liveCount--;
  }

  private linkUnassured(e: CtEntry): void {
    e.unassuredSlot = this.unassured.push(e);
  }

  /** Take `e` off the unassured ring if it is on it. */
  private unlinkUnassured(e: CtEntry): void {
    if (e.unassuredSlot < 0) return;
    this.unassured.clear(e.unassuredSlot);
    e.unassuredSlot = -1;
  }

  private l4(
    e: CtEntry,
    dir: CtDirection,
    p: Packet,
    now: number,
  ): { readonly v: L4Verdict; readonly reason: string } {
    const s = this.sysctls;
    switch (p.proto) {
      case 'tcp':
        return this.tcp(e, dir, p, now);
      case 'udp': {
        if (e.has(CtStatus.SEEN_REPLY)) {
          let extra = s.nf_conntrack_udp_timeout;
          let stream = false;
          // stream_ts: a replied flow older than 2 s counts as a stream.
          if (now > e.createdAt + 2000) {
            extra = s.nf_conntrack_udp_timeout_stream;
            stream = !e.has(CtStatus.ASSURED);
          }
          this.refresh(e, dir, p, now, extra);
          if (stream && !e.has(CtStatus.NAT_CLASH)) this.setAssured(e);
        } else {
          this.refresh(e, dir, p, now, s.nf_conntrack_udp_timeout);
        }
        return L4_OK;
      }
      case 'icmp':
        this.refresh(e, dir, p, now, s.nf_conntrack_icmp_timeout);
        return L4_OK;
      case 'icmpv6':
        this.refresh(e, dir, p, now, s.nf_conntrack_icmpv6_timeout);
        return L4_OK;
      case 'sctp':
        this.refresh(e, dir, p, now, s.nf_conntrack_generic_timeout);
        return L4_OK;
    }
  }

  /** nf_conntrack_tcp_packet without window tracking. */
  private tcp(
    e: CtEntry,
    dir: CtDirection,
    p: Packet,
    now: number,
  ): { readonly v: L4Verdict; readonly reason: string } {
    const flags = p.tcp ?? SYN;
    const index = tcpFlagIndex(flags);
    const old = e.tcpState ?? 'NONE';
    let next = tcpTableNext(dir, index, old);
    if (next === 'SYN_SENT' && tcpStateOrder(old) >= tcpStateOrder('TIME_WAIT')) {
      // A new SYN on a closed or aborted connection: forget the old entry and start again.
      if (e.closeInitOriginal || e.closeInitReply || (e.lastDir === dir && e.lastIndex === 'RST')) {
        return L4_REOPEN;
      }
      next = 'IG';
    }
    if (next === 'IG') {
      e.lastIndex = index;
      e.lastDir = dir;
      if (index === 'SYN' && dir === 'ORIGINAL') e.challengeAckExpected = old === 'LAST_ACK';
      return L4_IGNORE;
    }
    if (next === 'IV') return { v: 'invalid', reason: `invalid state: ${index} from ${dir} side in ${old}` };
    if (
      next === 'TIME_WAIT' &&
      old === 'LAST_ACK' &&
      index === 'ACK' &&
      e.lastDir !== dir &&
      e.lastIndex === 'SYN' &&
      e.challengeAckExpected
    ) {
      // An RFC 5961 challenge ACK answering a SYN, not the last ACK.
      e.challengeAckExpected = false;
      return L4_IGNORE;
    }
    if (next === 'SYN_SENT2') e.simultaneousOpen = true;
    if (next === 'SYN_RECV' && dir === 'REPLY' && index === 'ACK' && e.simultaneousOpen) next = 'ESTABLISHED';
    e.lastIndex = index;
    e.lastDir = dir;
    e.tcpState = next;
    if (old !== next && next === 'FIN_WAIT') {
      if (dir === 'ORIGINAL') e.closeInitOriginal = true;
      else e.closeInitReply = true;
    }
    const s = this.sysctls;
    let timeout = index === 'RST' ? s.nf_conntrack_tcp_timeout_close : tcpStateTimeout(next, s);
    if (!e.has(CtStatus.SEEN_REPLY)) {
      if (flags.rst) {
        // The only answer was a RST: no connection, delete the entry at once.
        this.refresh(e, dir, p, now, timeout);
        return L4_KILL;
      }
      // Mid-stream pickup without a reply yet: no 5-day timeout.
      if (next === 'ESTABLISHED' && timeout > s.nf_conntrack_tcp_timeout_unacknowledged) {
        timeout = s.nf_conntrack_tcp_timeout_unacknowledged;
      }
    } else if (
      !e.has(CtStatus.ASSURED) &&
      (old === 'SYN_RECV' || old === 'ESTABLISHED') &&
      next === 'ESTABLISHED'
    ) {
      this.setAssured(e);
    }
    this.refresh(e, dir, p, now, timeout);
    return L4_OK;
  }
}
