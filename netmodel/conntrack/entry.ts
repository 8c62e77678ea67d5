/**
 * A conntrack entry (struct nf_conn): original and reply tuples, status bits, the TCP state, the
 * expiry time, ctmark and counters. The table owns entries and mutates them; everyone else gets the
 * read-only `ConntrackEntryView`.
 */

import { timeHi, timeLo, timeOf } from './split-time.js';
import type { CtDirection } from './status.js';
import { CtStatus } from './status.js';
import type { TcpFlagIndex, TcpState } from './tcp.js';
import type { Tuple } from './tuple.js';

export interface CtCounter {
  readonly packets: number;
  readonly bytes: number;
}

/** What netfilter and the printers may read of an entry. */
export interface ConntrackEntryView {
  /** Unique per table, in creation order (the kernel's id is a hash; this one is stable). */
  readonly id: number;
  readonly original: Tuple;
  readonly reply: Tuple;
  /** CtStatus bits. */
  readonly status: number;
  /** ctmark (CONNMARK). */
  readonly mark: number;
  /** TCP only. */
  readonly tcpState: TcpState | undefined;
  /** When the entry expires, ms on the caller's clock. */
  readonly expiresAt: number;
  readonly createdAt: number;
  /** Per-direction counters; undefined when nf_conntrack_acct was 0 when the entry was created. */
  readonly counters: { readonly original: CtCounter; readonly reply: CtCounter } | undefined;
  /** The output device a MASQUERADE binding was made on (masq_index). */
  readonly masqueradeDevice: string | undefined;
}

/** CtEntry.tcpBits. */
const CLOSE_INIT_ORIGINAL = 1;
const CLOSE_INIT_REPLY = 2;
const SIMULTANEOUS_OPEN = 4;
const CHALLENGE_ACK_EXPECTED = 8;

interface MutableCounter {
  packets: number;
  bytes: number;
}

/**
 * The table's own mutable entry. Flat on purpose: a confirmed entry is this object and its two
 * tuples, nothing else (the times are split into small integers, split-time.ts; the TCP tracker's
 * flags are bits of one field; the table's rings and the tuple index hold the entry by slot number,
 * slot-ring.ts and tuple-index.ts; counters exist only with nf_conntrack_acct=1). At bench rates
 * ~30,000 closed connections wait in TIME_WAIT, and every object and field they keep is work for
 * each garbage collection.
 */
export class CtEntry implements ConntrackEntryView {
  /** Readonly to everyone but the table: a recycled entry gets a new id (table.ts, `recycle`). */
  id: number;
  original: Tuple;
  reply: Tuple;
  /**
   * The reply tuple object the table made for this entry and may rewrite in place when it recycles
   * the entry or binds NAT on it (table.ts); undefined when the table made none (ICMP, or a table
   * that does not recycle). Never a tuple a caller handed in (alterReply).
   */
  ownReply: Tuple | undefined = undefined;
  status = 0;
  mark = 0;
  tcpState: TcpState | undefined;
  /** expiresAt and createdAt, split (split-time.ts). */
  private expHi: number;
  private expLo: number;
  private createdHi: number;
  private createdLo: number;
  counters: { original: MutableCounter; reply: MutableCounter } | undefined;
  masqueradeDevice: string | undefined;

  // TCP tracker memory (struct ip_ct_tcp, minus the window data).
  lastIndex: TcpFlagIndex = 'NONE';
  lastDir: CtDirection = 'ORIGINAL';
  /** The tracker's four flags below, as bits of one field (a field per flag is 8 bytes per entry). */
  private tcpBits = 0;

  // The table's index keys (tuple-index.ts), set at confirm so that deletion need not hash again.
  /** hashOfTuple(original) and hashOfTuple(reply); -1 until confirmed. */
  origHash = -1;
  replyHash = -1;
  /** The entry's slot in the table's array of confirmed entries in confirm order (table.ts); -1: not in the table. */
  liveSlot = -1;
  /** The entry's slot in the table's ring of confirmed entries without ASSURED, oldest first (early_drop's candidates); -1: not in it. */
  unassuredSlot = -1;
  /** sourceHash(original) when the entry is in the bySource index (SNAT'd), else -1. */
  srcHash = -1;
  /** The id of the table that made the entry (ConntrackTable checks entries handed back to it). */
  owner = 0;
  /** The expiry timer's slot (expiry.ts): its FIFO (NO_TIMER: none) and position there. */
  timerQ = -1;
  timerPos = 0;
  /** Before confirm: the relative timeout, ms, that confirm turns into expiresAt (the kernel adds the clock then). */
  pendingTimeout = 0;

  constructor(id: number, original: Tuple, reply: Tuple, now: number, acct: boolean) {
    this.id = id;
    this.original = original;
    this.reply = reply;
    this.createdHi = timeHi(now);
    this.createdLo = timeLo(now, this.createdHi);
    this.expHi = this.createdHi;
    this.expLo = this.createdLo;
    this.counters = acct
      ? { original: { packets: 0, bytes: 0 }, reply: { packets: 0, bytes: 0 } }
      : undefined;
    this.tcpState = original.proto === 'tcp' ? 'NONE' : undefined;
  }

  /**
   * Make a dead entry (out of every ring, timer and index of its table) a fresh one, as the
   * constructor would with these arguments; the caller rewrites its tuples. Every field is written
   * here: test/conntrack/recycle.test.ts compares recycled tables with plain ones.
   */
  reinit(id: number, now: number, acct: boolean, tcp: boolean): void {
    this.id = id;
    this.status = 0;
    this.mark = 0;
    this.tcpState = tcp ? 'NONE' : undefined;
    const hi = timeHi(now);
    this.createdHi = hi;
    this.createdLo = timeLo(now, hi);
    this.expHi = hi;
    this.expLo = this.createdLo;
    const c = this.counters;
    if (!acct) this.counters = undefined;
    else if (c === undefined)
      this.counters = { original: { packets: 0, bytes: 0 }, reply: { packets: 0, bytes: 0 } };
    else {
      c.original.packets = 0;
      c.original.bytes = 0;
      c.reply.packets = 0;
      c.reply.bytes = 0;
    }
    this.masqueradeDevice = undefined;
    this.lastIndex = 'NONE';
    this.lastDir = 'ORIGINAL';
    this.tcpBits = 0;
    this.origHash = -1;
    this.replyHash = -1;
    this.liveSlot = -1;
    this.unassuredSlot = -1;
    this.srcHash = -1;
    this.timerQ = -1;
    this.timerPos = 0;
    this.pendingTimeout = 0;
  }

  /** IP_CT_TCP_FLAG_CLOSE_INIT of the original side: it sent the first FIN. */
  get closeInitOriginal(): boolean {
    return (this.tcpBits & CLOSE_INIT_ORIGINAL) !== 0;
  }
  set closeInitOriginal(v: boolean) {
    this.tcpBits = v ? this.tcpBits | CLOSE_INIT_ORIGINAL : this.tcpBits & ~CLOSE_INIT_ORIGINAL;
  }

  /** IP_CT_TCP_FLAG_CLOSE_INIT of the reply side. */
  get closeInitReply(): boolean {
    return (this.tcpBits & CLOSE_INIT_REPLY) !== 0;
  }
  set closeInitReply(v: boolean) {
    this.tcpBits = v ? this.tcpBits | CLOSE_INIT_REPLY : this.tcpBits & ~CLOSE_INIT_REPLY;
  }

  get simultaneousOpen(): boolean {
    return (this.tcpBits & SIMULTANEOUS_OPEN) !== 0;
  }
  set simultaneousOpen(v: boolean) {
    this.tcpBits = v ? this.tcpBits | SIMULTANEOUS_OPEN : this.tcpBits & ~SIMULTANEOUS_OPEN;
  }

  get challengeAckExpected(): boolean {
    return (this.tcpBits & CHALLENGE_ACK_EXPECTED) !== 0;
  }
  set challengeAckExpected(v: boolean) {
    this.tcpBits = v ? this.tcpBits | CHALLENGE_ACK_EXPECTED : this.tcpBits & ~CHALLENGE_ACK_EXPECTED;
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

  has(bit: number): boolean {
    return (this.status & bit) !== 0;
  }

  get confirmed(): boolean {
    return this.has(CtStatus.CONFIRMED);
  }

  tuple(dir: CtDirection): Tuple {
    return dir === 'ORIGINAL' ? this.original : this.reply;
  }
}

/** Seconds left, as `conntrack -L` prints them (rounded down, never negative). */
export function secondsLeft(e: ConntrackEntryView, now: number): number {
  return Math.max(0, Math.floor((e.expiresAt - now) / 1000));
}
