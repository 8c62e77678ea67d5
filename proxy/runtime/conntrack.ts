/**
 * The live connection table: one entry per proxied TCP connection or UDP flow, with the original and
 * reply tuples in MODEL addresses, as the kernel's conntrack would hold them for the same traffic.
 * The narrow boundary (open / count / state / close / list) is what the netmodel conntrack will take
 * over; the storage here is a plain map.
 *
 * Counters: bytes are exact payload bytes; "packets" count socket reads and writes as the proxy saw
 * them (one per data chunk or datagram), not wire segments.
 */
import type { Clock } from '../../netmodel/clock.js';

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
}

/** Fields as `conntrack -L` prints them; kernel defaults: tcp established 432000 s, udp 30 s (120 s assured). */
const KERNEL_TIMEOUTS = { tcpEstablished: 432000, tcpClosing: 120, udp: 30, udpAssured: 120 };

export class LiveConntrack {
  private readonly entries = new Map<number, LiveConnection>();
  private nextId = 1;

  constructor(private readonly clock: Clock) {}

  open(
    e: Omit<
      LiveConnection,
      'id' | 'startedAt' | 'lastSeen' | 'orig' | 'repl' | 'reply' | 'endpoint' | 'state' | 'timeoutSeconds'
    > & {
      state: LiveConnection['state'];
      timeoutSeconds?: number;
    },
  ): LiveConnection {
    const now = this.clock.now();
    const c: LiveConnection = {
      ...e,
      id: this.nextId++,
      reply: undefined,
      endpoint: undefined,
      orig: { packets: 0, bytes: 0 },
      repl: { packets: 0, bytes: 0 },
      startedAt: now,
      lastSeen: now,
      timeoutSeconds:
        e.timeoutSeconds ?? (e.protocol === 'tcp' ? KERNEL_TIMEOUTS.tcpEstablished : KERNEL_TIMEOUTS.udp),
    };
    this.entries.set(c.id, c);
    return c;
  }

  count(c: LiveConnection, dir: 'orig' | 'repl', bytes: number): void {
    c[dir].packets++;
    c[dir].bytes += bytes;
    c.lastSeen = this.clock.now();
    if (c.protocol === 'udp' && dir === 'repl') c.state = 'ASSURED';
  }

  close(c: LiveConnection): void {
    this.entries.delete(c.id);
  }

  list(): LiveConnection[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }
}

/** JSON shape of one entry for the admin API and `kpath conntrack -o json`. */
export function conntrackJson(c: LiveConnection, now: number) {
  return {
    id: c.id,
    protocol: c.protocol,
    state: c.state,
    original: { ...c.original, packets: c.orig.packets, bytes: c.orig.bytes },
    reply: c.reply ? { ...c.reply, packets: c.repl.packets, bytes: c.repl.bytes } : null,
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
  const idle = Math.floor((now - c.lastSeen) / 1000);
  const t = c.protocol === 'udp' && c.state === 'ASSURED' ? KERNEL_TIMEOUTS.udpAssured : c.timeoutSeconds;
  return Math.max(0, t - idle);
}

/** One line as `conntrack -L` prints it (with accounting on). */
export function formatConntrackLine(j: ConntrackJson): string {
  const proto = j.protocol === 'tcp' ? 'tcp      6' : 'udp      17';
  const state = j.protocol === 'tcp' ? ` ${j.state}` : '';
  const t = (x: { src: string; dst: string; sport: number; dport: number; packets: number; bytes: number }) =>
    `src=${x.src} dst=${x.dst} sport=${x.sport} dport=${x.dport} packets=${x.packets} bytes=${x.bytes}`;
  const orig = t(j.original);
  // Before a reply tuple exists (dial in progress) the kernel would show the un-NATed reply.
  const reply = j.reply
    ? t(j.reply)
    : t({
        src: j.original.dst,
        dst: j.original.src,
        sport: j.original.dport,
        dport: j.original.sport,
        packets: 0,
        bytes: 0,
      });
  const flag =
    j.protocol === 'udp'
      ? j.state === 'UNREPLIED'
        ? ' [UNREPLIED]'
        : j.state === 'ASSURED'
          ? ' [ASSURED]'
          : ''
      : j.reply
        ? ' [ASSURED]'
        : ' [UNREPLIED]';
  if (j.protocol === 'udp' && flag === ' [UNREPLIED]')
    return `${proto} ${j.timeoutSeconds} ${orig} [UNREPLIED] ${reply} mark=0 use=1`;
  return `${proto} ${j.timeoutSeconds}${state} ${orig} ${reply}${flag} mark=0 use=1`;
}
