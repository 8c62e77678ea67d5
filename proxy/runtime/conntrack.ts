/**
 * The live connection table: one entry per proxied TCP connection or UDP flow, with the original and
 * reply tuples in MODEL addresses, as the kernel's conntrack would hold them for the same traffic.
 * The narrow boundary (open / count / state / close / list) is what the netmodel conntrack will take
 * over; the storage here is a plain map.
 *
 * Counters:
 * - UDP: exact, counted as the proxy forwards each datagram (`count`): packets are datagrams, bytes are
 *   payload bytes, and lastSeen is the last datagram.
 * - TCP: read from the two sockets (`sources`), not counted per chunk, so the data path carries no
 *   per-chunk JavaScript. They are sampled when the table is listed and when the entry closes: bytes
 *   are the payload bytes read from the client (orig) and from the endpoint (repl). Packets, on the
 *   native relay, are the kernel's own count of TCP segments the proxy's socket received from the
 *   client and from the endpoint (TCP_INFO tcpi_segs_in: SYN, data, ACKs and FIN, as conntrack counts
 *   them); on Node streams, where the kernel's counters are out of reach, the fewest socket reads
 *   that can carry the bytes (one per started 64 KiB), 0 when no byte was read. lastSeen is the time
 *   of the last sample that saw the counts grow (so the timeout column restarts when a listing sees
 *   new traffic, not at the exact last segment).
 */
import type { Clock } from '../../netmodel/clock.js';
import { RelayFin } from '../native/load.js';
import { SlotSet } from './slot-set.js';

export interface Tuple {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
}

export type TcpState =
  | 'SYN_SENT'
  | 'ESTABLISHED'
  | 'FIN_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSE';

export interface Counters {
  packets: number;
  bytes: number;
}

export interface LiveConnection {
  readonly id: number;
  readonly protocol: 'tcp' | 'udp';
  /** client -> what it dialled */
  readonly original: Tuple;
  /** endpoint -> the source it saw (the client, or the node when masqueraded); filled once forwarded */
  reply: Tuple | undefined;
  state: TcpState | 'UNREPLIED' | 'ASSURED';
  readonly orig: Counters;
  readonly repl: Counters;
  readonly service: string;
  endpoint: string | undefined;
  readonly entryNode: string;
  readonly mode: string;
  readonly startedAt: number;
  lastSeen: number;
  /** Idle timeout of the entry, seconds (what conntrack -L prints in its timeout column). */
  readonly timeoutSeconds: number;
  /**
   * TCP: where the counters are read from: the client and endpoint sockets (Node streams), or the
   * native relay, which reports both directions in one call.
   */
  sources: readonly [ByteSource, ByteSource] | RelayCounts | undefined;
  /** Its index in the live table while it is live (the table's own bookkeeping); -1 after. */
  slot: number;
}

/** A socket's cumulative received byte count (net.Socket has it, and keeps it after close). */
export interface ByteSource {
  readonly bytesRead: number;
}

/**
 * Both directions at once: [orig bytes, repl bytes, orig segments, repl segments, FINs seen
 * (RelayFin bits)]. The native relay does not report half-closes as they happen; the state is read
 * with the counters.
 */
export interface RelayCounts {
  /**
   * undefined once the relay is gone (its final counts came with its end). `segs` false: the
   * segment counts are not read (accounting off; they are then whatever the relay last had, or -1).
   */
  read(segs: boolean): readonly [number, number, number, number, number] | undefined;
}

/** Node reads at most 64 KiB from a TCP socket at a time. */
const READ_SIZE = 65536;

/** Fields as `conntrack -L` prints them; kernel defaults: tcp established 432000 s, udp 30 s (120 s assured). */
const KERNEL_TIMEOUTS = { udp: 30, udpAssured: 120 };

/** The kernel's TCP timeouts by state, seconds (net.netfilter.nf_conntrack_tcp_timeout_*). */
const TCP_TIMEOUTS: Record<TcpState, number> = {
  SYN_SENT: 120, // _syn_sent
  ESTABLISHED: 432000, // _established
  FIN_WAIT: 120, // _fin_wait
  CLOSE_WAIT: 60, // _close_wait
  LAST_ACK: 30, // _last_ack
  TIME_WAIT: 120, // _time_wait
  CLOSE: 10, // _close
};

/**
 * Closed entries kept while they age out, as the kernel keeps TIME_WAIT (120 s) and CLOSE (10 s)
 * entries after a connection ends. Bounded: past this many the oldest go first (the kernel's table
 * is bounded too, by nf_conntrack_max, and drops old entries when full).
 */
const MAX_CLOSED = 16_384;

export class LiveConntrack {
  /**
   * The live entries, each at its `slot` (swap-removed at the end: no hash table churns per
   * connection; see slot-set.ts); listed in id order.
   */
  private readonly entries = new SlotSet<LiveConnection>();
  /**
   * Ended connections ageing out, oldest first: a ring (entries leave only at the head), since a
   * Map used as a queue leaves a hole per deleted head entry that every later scan walks over. It
   * keeps their fields, not the entries: an entry dies with its connection instead of living on
   * for seconds (through V8's young generation into the old one) while it ages out.
   */
  private readonly closed: ClosedRing;
  private nextId = 1;
  /**
   * net.netfilter.nf_conntrack_acct (Linux's default 0): with it on, `conntrack -L` prints each
   * direction's packets= and bytes=, and the native relay reads its sockets' segment counts
   * (TCP_INFO) for them; off, neither, and the entries carry payload bytes only (kpath's own count,
   * which the metrics need anyway).
   */
  readonly acct: boolean;

  constructor(
    private readonly clock: Clock,
    private readonly maxClosed = MAX_CLOSED,
    acct = false,
  ) {
    this.closed = new ClosedRing(maxClosed);
    this.acct = acct;
  }

  open(
    e: Omit<
      LiveConnection,
      | 'id'
      | 'startedAt'
      | 'lastSeen'
      | 'orig'
      | 'repl'
      | 'reply'
      | 'endpoint'
      | 'state'
      | 'timeoutSeconds'
      | 'sources'
      | 'slot'
    > & {
      state: LiveConnection['state'];
      timeoutSeconds?: number;
    },
  ): LiveConnection {
    const now = this.clock.now();
    // One literal with every field in a fixed order: every entry has the same shape.
    const c: LiveConnection = {
      id: this.nextId++,
      protocol: e.protocol,
      original: e.original,
      reply: undefined,
      state: e.state,
      orig: { packets: 0, bytes: 0 },
      repl: { packets: 0, bytes: 0 },
      service: e.service,
      endpoint: undefined,
      entryNode: e.entryNode,
      mode: e.mode,
      startedAt: now,
      lastSeen: now,
      timeoutSeconds:
        e.timeoutSeconds ?? (e.protocol === 'tcp' ? TCP_TIMEOUTS.ESTABLISHED : KERNEL_TIMEOUTS.udp),
      sources: undefined,
      slot: -1,
    };
    this.entries.add(c);
    return c;
  }

  /** Read the byte counts of an entry that has `sources` (see the header for the semantics). */
  sample(c: LiveConnection): void {
    const s = c.sources;
    if (!s) return;
    let o: number;
    let r: number;
    let op: number;
    let rp: number;
    if ('read' in s) {
      const v = s.read(this.acct);
      if (v === undefined) return;
      o = v[0];
      r = v[1];
      op = v[2];
      rp = v[3];
      c.state = finState(v[4]);
    } else {
      o = s[0].bytesRead;
      r = s[1].bytesRead;
      op = Math.ceil(o / READ_SIZE);
      rp = Math.ceil(r / READ_SIZE);
    }
    if (o === c.orig.bytes && r === c.repl.bytes && op === c.orig.packets && rp === c.repl.packets) return;
    c.orig.bytes = o;
    c.orig.packets = op;
    c.repl.bytes = r;
    c.repl.packets = rp;
    c.lastSeen = this.clock.now();
  }

  count(c: LiveConnection, dir: 'orig' | 'repl', bytes: number): void {
    c[dir].packets++;
    c[dir].bytes += bytes;
    c.lastSeen = this.clock.now();
    if (c.protocol === 'udp' && dir === 'repl') c.state = 'ASSURED';
  }

  /** Remove the entry; its counters are sampled one last time (final values for the caller). */
  /**
   * The connection ended: out of the live table. Its entry then ages out as the kernel's would: a
   * TCP connection that was forwarded stays TIME_WAIT (both sides closed) or CLOSE (reset) for the
   * kernel's timeout of that state; a UDP flow stays until its timeout from the last datagram. A
   * TCP connection never forwarded (rejected, dropped, no endpoint answered) leaves nothing, as an
   * unconfirmed kernel entry leaves nothing.
   */
  close(c: LiveConnection): void {
    this.sample(c);
    this.entries.delete(c);
    c.sources = undefined;
    if (c.protocol === 'tcp' && c.reply === undefined) return;
    const now = this.clock.now();
    if (c.protocol === 'tcp') {
      if (c.state !== 'CLOSE') c.state = 'TIME_WAIT';
      c.lastSeen = now;
    }
    this.trim(now, 1);
    this.closed.push(c);
  }

  /** Live connections, oldest first (counters sampled now). */
  list(): LiveConnection[] {
    const out = this.entries.toArray().sort((a, b) => a.id - b.id);
    for (const c of out) this.sample(c);
    return out;
  }

  /** What `conntrack -L` would show: the live connections, then the ended ones still ageing out. */
  listAll(): LiveConnection[] {
    const now = this.clock.now();
    this.trim(now);
    const ageing = this.closed.toArray().filter((c) => remaining(c, now) > 0);
    return [...this.list(), ...ageing];
  }

  /** Drop expired entries from the head, and the oldest until `room` more fit. */
  private trim(now: number, room = 0): void {
    const q = this.closed;
    while (q.size > 0) {
      if (q.size + room <= this.maxClosed && q.headRemaining(now) > 0) break;
      q.shift();
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Ended entries, oldest first, in a bounded ring of columns (numbers in typed arrays, strings, which
 * are shared with the model and the listeners, in one array). Grows by doubling up to `max`; the
 * caller makes room first (size < max).
 */
class ClosedRing {
  /** per entry: id, startedAt, lastSeen, timeoutSeconds, orig packets, orig bytes, repl packets, repl bytes */
  private num = new Float64Array(0);
  /** per entry: original sport, dport, reply sport, dport (reply sport -1: no reply tuple) */
  private int = new Int32Array(0);
  /** per entry: protocol, original src, dst, reply src, dst, state, service, endpoint, entry node, mode */
  private str: (string | undefined)[] = [];
  private cap = 0;
  private head = 0;
  size = 0;
  constructor(private readonly max: number) {}

  push(c: LiveConnection): void {
    if (this.size === this.cap) this.grow();
    const i = (this.head + this.size) % this.cap;
    const n = i * 8;
    const num = this.num;
    num[n] = c.id;
    num[n + 1] = c.startedAt;
    num[n + 2] = c.lastSeen;
    num[n + 3] = c.timeoutSeconds;
    num[n + 4] = c.orig.packets;
    num[n + 5] = c.orig.bytes;
    num[n + 6] = c.repl.packets;
    num[n + 7] = c.repl.bytes;
    const k = i * 4;
    const r = c.reply;
    this.int[k] = c.original.sport;
    this.int[k + 1] = c.original.dport;
    this.int[k + 2] = r ? r.sport : -1;
    this.int[k + 3] = r ? r.dport : 0;
    const t = i * 10;
    const str = this.str;
    str[t] = c.protocol;
    str[t + 1] = c.original.src;
    str[t + 2] = c.original.dst;
    str[t + 3] = r?.src;
    str[t + 4] = r?.dst;
    str[t + 5] = c.state;
    str[t + 6] = c.service;
    str[t + 7] = c.endpoint;
    str[t + 8] = c.entryNode;
    str[t + 9] = c.mode;
    this.size++;
  }

  /** Seconds the oldest entry has left (see `remaining`). */
  headRemaining(now: number): number {
    const i = this.head;
    const n = i * 8;
    const t = i * 10;
    return remainingOf(
      this.str[t] as 'tcp' | 'udp',
      this.str[t + 5] as LiveConnection['state'],
      this.num[n + 2]!,
      this.num[n + 3]!,
      now,
    );
  }

  shift(): void {
    const t = this.head * 10;
    this.str.fill(undefined, t, t + 10);
    this.head = (this.head + 1) % this.cap;
    this.size--;
  }

  /** The entries, rebuilt (oldest first). */
  toArray(): LiveConnection[] {
    const out: LiveConnection[] = [];
    const { num, int, str } = this;
    for (let j = 0; j < this.size; j++) {
      const i = (this.head + j) % this.cap;
      const n = i * 8;
      const k = i * 4;
      const t = i * 10;
      const original = { src: str[t + 1]!, sport: int[k]!, dst: str[t + 2]!, dport: int[k + 1]! };
      out.push({
        id: num[n]!,
        protocol: str[t] as 'tcp' | 'udp',
        original,
        reply:
          int[k + 2]! < 0
            ? undefined
            : { src: str[t + 3]!, sport: int[k + 2]!, dst: str[t + 4]!, dport: int[k + 3]! },
        state: str[t + 5] as LiveConnection['state'],
        orig: { packets: num[n + 4]!, bytes: num[n + 5]! },
        repl: { packets: num[n + 6]!, bytes: num[n + 7]! },
        service: str[t + 6]!,
        endpoint: str[t + 7],
        entryNode: str[t + 8]!,
        mode: str[t + 9]!,
        startedAt: num[n + 1]!,
        lastSeen: num[n + 2]!,
        timeoutSeconds: num[n + 3]!,
        sources: undefined,
        slot: -1,
      });
    }
    return out;
  }

  /** Double the capacity (at most `max`), the entries moved to the start in order. */
  private grow(): void {
    const cap = Math.max(1, Math.min(this.max, this.cap === 0 ? 1024 : this.cap * 2));
    const num = new Float64Array(cap * 8);
    const int = new Int32Array(cap * 4);
    const str = new Array<string | undefined>(cap * 10).fill(undefined);
    for (let j = 0; j < this.size; j++) {
      const i = (this.head + j) % this.cap;
      num.set(this.num.subarray(i * 8, i * 8 + 8), j * 8);
      int.set(this.int.subarray(i * 4, i * 4 + 4), j * 4);
      for (let f = 0; f < 10; f++) str[j * 10 + f] = this.str[i * 10 + f];
    }
    this.num = num;
    this.int = int;
    this.str = str;
    this.cap = cap;
    this.head = 0;
  }
}

/** The TCP state after the FINs a relay has seen (none: still ESTABLISHED). */
function finState(fins: number): TcpState {
  const client = (fins & RelayFin.CLIENT) !== 0;
  const endpoint = (fins & RelayFin.ENDPOINT) !== 0;
  return client && endpoint ? 'TIME_WAIT' : client ? 'FIN_WAIT' : endpoint ? 'CLOSE_WAIT' : 'ESTABLISHED';
}

/** One direction in JSON: the tuple, payload bytes, and with accounting on the kernel's packets. */
export interface ConntrackTupleJson extends Tuple {
  /** Segments (TCP) or datagrams (UDP) seen this way; only with nf_conntrack_acct=1. */
  readonly packets?: number;
  /** Payload bytes the proxy carried this way (kpath's count: present with accounting off too). */
  readonly bytes: number;
}

function tupleJson(t: Tuple, c: Counters, acct: boolean): ConntrackTupleJson {
  const { src, dst, sport, dport } = t;
  return acct
    ? { src, dst, sport, dport, packets: c.packets, bytes: c.bytes }
    : { src, dst, sport, dport, bytes: c.bytes };
}

/**
 * JSON shape of one entry for the admin API and `kpath conntrack -o json`. `acct`: the table's
 * nf_conntrack_acct; without it the directions carry no `packets` (and `conntrack -L` prints no
 * counters).
 */
export function conntrackJson(c: LiveConnection, now: number, acct = false) {
  return {
    id: c.id,
    protocol: c.protocol,
    state: c.state,
    original: tupleJson(c.original, c.orig, acct),
    reply: c.reply ? tupleJson(c.reply, c.repl, acct) : null,
    service: c.service,
    endpoint: c.endpoint ?? null,
    entryNode: c.entryNode,
    mode: c.mode,
    ageSeconds: Math.max(0, Math.floor((now - c.startedAt) / 1000)),
    timeoutSeconds: remaining(c, now),
  };
}

export type ConntrackJson = ReturnType<typeof conntrackJson>;

function remaining(c: LiveConnection, now: number): number {
  return remainingOf(c.protocol, c.state, c.lastSeen, c.timeoutSeconds, now);
}

/** Seconds an entry has left: its state's timeout (TCP) or its own (UDP) from its last sign of life. */
function remainingOf(
  protocol: 'tcp' | 'udp',
  state: LiveConnection['state'],
  lastSeen: number,
  timeoutSeconds: number,
  now: number,
): number {
  const idle = Math.floor((now - lastSeen) / 1000);
  const t =
    protocol === 'udp'
      ? state === 'ASSURED'
        ? KERNEL_TIMEOUTS.udpAssured
        : timeoutSeconds
      : (TCP_TIMEOUTS[state as TcpState] ?? timeoutSeconds);
  return Math.max(0, t - idle);
}

/**
 * One line as `conntrack -L` prints it (conntrack-tools' snprintf_default.c, as
 * netmodel/conntrack/print.ts restates it): protocol, seconds left, TCP state, the original tuple and
 * its counters, [UNREPLIED] when no reply was seen, the reply tuple and its counters, [ASSURED],
 * mark, use. Counters (packets= bytes=) only when the entry carries `packets`, i.e. the proxy runs
 * with nf_conntrack_acct=1.
 */
export function formatConntrackLine(j: ConntrackJson): string {
  const proto = j.protocol === 'tcp' ? 'tcp      6' : 'udp      17';
  const state = j.protocol === 'tcp' ? ` ${j.state}` : '';
  const acct = j.original.packets !== undefined;
  const t = (x: Tuple, packets: number | undefined, bytes: number) =>
    `src=${x.src} dst=${x.dst} sport=${x.sport} dport=${x.dport}` +
    (acct ? ` packets=${packets ?? 0} bytes=${bytes}` : '');
  const orig = t(j.original, j.original.packets, j.original.bytes);
  // Before a reply tuple exists (dial in progress) the kernel would show the un-NATed reply.
  const reply = j.reply
    ? t(j.reply, j.reply.packets, j.reply.bytes)
    : t({ src: j.original.dst, dst: j.original.src, sport: j.original.dport, dport: j.original.sport }, 0, 0);
  // TCP: replied once the endpoint answered (forwarded), and then assured; UDP: by its state.
  const replied = j.protocol === 'udp' ? j.state !== 'UNREPLIED' : j.reply !== null;
  const assured = j.protocol === 'udp' ? j.state === 'ASSURED' : j.reply !== null;
  return `${proto} ${j.timeoutSeconds}${state} ${orig}${replied ? '' : ' [UNREPLIED]'} ${reply}${assured ? ' [ASSURED]' : ''} mark=0 use=1`;
}
