/**
 * The emulated side of the harness: the router of topology-plan.ts as a KernelNode, and what the
 * emulator predicts for one connection. The client and the servers are modelled as the endpoints
 * Linux would be: every server address listens on every port of the plan, so a SYN that reaches one
 * gets a SYN-ACK, and a datagram gets its answer.
 *
 * TCP is played as SYN, SYN-ACK, ACK, the client's token, the server's answer; UDP as the datagram
 * and its answer. What the client sees follows from where the first packet that failed failed:
 *   SYN dropped, or the SYN-ACK lost             -> timeout
 *   SYN rejected or unroutable                   -> the errno the ICMP error or RST gives connect()
 *   ACK or token lost                            -> stalled (connected, no answer), server saw nothing
 *   the answer lost                              -> stalled, server saw the token
 *   everything through                           -> answered
 */
import { type IP, ipEquals, parseIP } from '../../netmodel/addr.js';
import { KernelNode, receive, send, type WalkEnv, type WalkResult } from '../../netmodel/kernel/index.js';
import type { RejectWith } from '../../netmodel/netfilter/index.js';
import { ACK, type Packet, packet, SYN, SYN_ACK } from '../../netmodel/packet.js';
import type { Case } from './generate.js';
import { SERVER_ADDRS, TCP_PORTS, UDP_PORTS } from './topology-plan.js';

export interface Seen {
  readonly name: 'router' | 'server';
  readonly local: string;
  readonly remote: string;
}

/** What one connection looked like from the outside, real or predicted. */
export interface Answer {
  readonly result: 'answered' | 'stalled' | 'refused' | 'error' | 'timeout';
  /** errno for refused/error. */
  readonly code?: string;
  /** The answer line ("server 10.10.2.2:80 10.10.1.2:20001"). */
  readonly reply?: string;
  /** What the server (or the router's own listener) saw of the connection, if anything. */
  readonly seen?: Seen;
  /**
   * Emulated only: a connected client's ACK or token was REJECTed with this errno's ICMP error
   * (Linux keeps it as a soft error that the socket may report before our deadline), or with a RST
   * (ECONNRESET, reported by the client's next read or write). See known-differences.ts,
   * 'soft-icmp-error-after-connect'.
   */
  readonly softError?: string;
}

export function makeRouter(): KernelNode {
  const n = new KernelNode({ name: 'router', ipForward: true, conntrackOnDemand: true });
  n.routing.addInterface({ name: 'r0', kind: 'veth', up: true });
  n.routing.addInterface({ name: 'r1', kind: 'veth', up: true });
  n.routing.addAddress('r0', '10.10.1.1/24');
  n.routing.addAddress('r1', '10.10.2.1/24');
  n.routing.addAddress('r1', '10.10.2.9/24');
  n.routing.addRoute({ dst: '10.96.0.0/16', type: 'blackhole' });
  return n;
}

/** connect()'s errno for an ICMP error (icmp_err_convert) or a RST; for UDP only the fatal ones show. */
function rejectErrno(w: RejectWith, proto: 'tcp' | 'udp'): string | undefined {
  const table: Record<string, [string, boolean]> = {
    'icmp-net-unreachable': ['ENETUNREACH', false],
    'icmp-host-unreachable': ['EHOSTUNREACH', false],
    'icmp-proto-unreachable': ['ENOPROTOOPT', true],
    'icmp-port-unreachable': ['ECONNREFUSED', true],
    'icmp-net-prohibited': ['ENETUNREACH', true],
    'icmp-host-prohibited': ['EHOSTUNREACH', true],
    'icmp-admin-prohibited': ['EHOSTUNREACH', true],
    'tcp-reset': ['ECONNREFUSED', true],
  };
  const e = table[w];
  if (!e) throw new Error(`kernel-diff: no errno mapping for REJECT --reject-with ${w}`);
  // TCP in SYN_SENT takes every ICMP error as fatal (tcp_v4_err); UDP only the "hard" ones.
  return proto === 'tcp' || e[1] ? e[0] : undefined;
}

function unreachableErrno(icmpCode: number): string {
  return icmpCode === 0 ? 'ENETUNREACH' : icmpCode === 1 ? 'EHOSTUNREACH' : `ICMP-${icmpCode}`;
}

const hostPort = (ip: IP, port: number) => `${ip.text}:${port}`;

/** Where a packet from the client ended up: an endpoint, or how it failed. */
type Reach =
  | { kind: 'endpoint'; name: 'router' | 'server'; packet: Packet }
  | { kind: 'failed'; r: WalkResult };

function reach(r: WalkResult): Reach {
  const o = r.outcome;
  if (o.kind === 'delivered') return { kind: 'endpoint', name: 'router', packet: o.packet };
  if (o.kind === 'sent' && o.dev === 'r1' && SERVER_ADDRS.some((a) => a === o.nextHop.text))
    return { kind: 'endpoint', name: 'server', packet: o.packet };
  return { kind: 'failed', r };
}

/** Does a packet from an endpoint reach the client socket `c`? */
function backToClient(r: WalkResult, c: Case): boolean {
  const o = r.outcome;
  return (
    o.kind === 'sent' &&
    o.dev === 'r0' &&
    o.packet.dst.text === c.src &&
    o.packet.dport === c.sport &&
    o.packet.src.text === c.dst &&
    o.packet.sport === c.dport
  );
}

function listens(proto: 'tcp' | 'udp', port: number): boolean {
  return (proto === 'tcp' ? (TCP_PORTS as readonly number[]) : (UDP_PORTS as readonly number[])).includes(
    port,
  );
}

/** Lengths as Linux sends them: SYN and SYN-ACK carry 20 bytes of options, later segments 12. */
const LEN = { syn: 60, ack: 52, ip: 20, udp: 8 } as const;

/** The prediction for one connection, and the walk of its first packet. */
export function emulateCase(
  node: KernelNode,
  c: Case,
  now: number,
  env0: Omit<WalkEnv, 'now'>,
): { answer: Answer; first: WalkResult } {
  const first = firstPacket(node, c, now, env0);
  return { answer: playCase(node, c, now, env0, first), first };
}

function firstPacket(node: KernelNode, c: Case, now: number, env0: Omit<WalkEnv, 'now'>): WalkResult {
  const p = packet({
    proto: c.proto,
    src: parseIP(c.src),
    dst: parseIP(c.dst),
    sport: c.sport,
    dport: c.dport,
    length: c.proto === 'tcp' ? LEN.syn : LEN.ip + LEN.udp + c.id.length + 1,
    ...(c.proto === 'tcp' ? { tcp: SYN } : {}),
  });
  return receive(node, p, 'r0', { ...env0, now });
}

function playCase(
  node: KernelNode,
  c: Case,
  now: number,
  env0: Omit<WalkEnv, 'now'>,
  first: WalkResult,
): Answer {
  const env = { ...env0, now };
  const src = parseIP(c.src);
  const dst = parseIP(c.dst);
  const token = `${c.id}\n`;
  const fromClient = (init: { tcp?: typeof SYN; length: number }) =>
    receive(
      node,
      packet({
        proto: c.proto,
        src,
        dst,
        sport: c.sport,
        dport: c.dport,
        length: init.length,
        ...(init.tcp ? { tcp: init.tcp } : {}),
      }),
      'r0',
      env,
    );
  const fromEndpoint = (
    name: 'router' | 'server',
    local: Packet,
    tcp: typeof SYN | undefined,
    length: number,
  ) => {
    const p = packet({
      proto: c.proto,
      src: local.dst,
      dst: local.src,
      sport: local.dport,
      dport: local.sport,
      length,
      ...(tcp ? { tcp } : {}),
    });
    return name === 'router' ? send(node, p, env) : receive(node, p, 'r1', env);
  };

  const r1 = reach(first);
  if (r1.kind === 'failed') {
    const o = r1.r.outcome;
    if (o.kind === 'rejected') {
      const code = rejectErrno(o.with, c.proto);
      return code ? { result: code === 'ECONNREFUSED' ? 'refused' : 'error', code } : { result: 'timeout' };
    }
    if (o.kind === 'unreachable') {
      // No route: ICMP net/host unreachable. TCP's connect() fails with it; UDP ignores it (not fatal).
      return c.proto === 'tcp'
        ? { result: 'error', code: unreachableErrno(o.icmpCode) }
        : { result: 'timeout' };
    }
    return { result: 'timeout' };
  }
  const at = r1.packet;
  if (!listens(c.proto, at.dport))
    throw new Error(`kernel-diff: the generator sent ${c.id} to closed port ${at.dport}`);
  const seen: Seen = { name: r1.name, local: hostPort(at.dst, at.dport), remote: hostPort(at.src, at.sport) };
  const reply = `${seen.name} ${seen.local} ${seen.remote}`;

  if (c.proto === 'udp') {
    const back = fromEndpoint(r1.name, at, undefined, LEN.ip + LEN.udp + reply.length + 1);
    return backToClient(back, c) ? { result: 'answered', reply, seen } : { result: 'timeout', seen };
  }
  const synAck = fromEndpoint(r1.name, at, SYN_ACK, LEN.syn);
  if (!backToClient(synAck, c)) return { result: 'timeout' };
  // The client is connected. Its ACK and then its token must reach the same endpoint.
  const sameEnd = (r: WalkResult) => {
    const x = reach(r);
    return (
      x.kind === 'endpoint' &&
      x.name === r1.name &&
      ipEquals(x.packet.dst, at.dst) &&
      x.packet.dport === at.dport
    );
  };
  const stalled = (r: WalkResult): Answer => {
    const o = r.outcome;
    // The client is connected: a RST now resets the connection (ECONNRESET on its next read or
    // write), where in SYN_SENT it refused it; an ICMP error is a soft error.
    const soft =
      o.kind !== 'rejected' ? undefined : o.with === 'tcp-reset' ? 'ECONNRESET' : rejectErrno(o.with, 'tcp');
    return soft ? { result: 'stalled', softError: soft } : { result: 'stalled' };
  };
  const ack = fromClient({ tcp: ACK, length: LEN.ack });
  if (!sameEnd(ack)) return stalled(ack);
  const data = fromClient({ tcp: ACK, length: LEN.ack + token.length });
  if (!sameEnd(data)) return stalled(data);
  const answer = fromEndpoint(r1.name, at, ACK, LEN.ack + reply.length + 1);
  return backToClient(answer, c) ? { result: 'answered', reply, seen } : { result: 'stalled', seen };
}
