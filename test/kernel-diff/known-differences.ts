/**
 * Known differences between the emulated kernel and Linux that the harness found, with the kernel
 * evidence and exactly how the harness accounts for each. Nothing here loosens a comparison: each
 * entry either adds to the emulated side the one step the emulator does not model (computed with the
 * emulator's own rule evaluation, so the counters must still agree exactly), or keeps the real
 * kernel out of a behaviour the emulator deliberately does not model (by configuring the
 * namespaces, never the host).
 */
import type { KernelNode, WalkResult } from '../../netmodel/kernel/index.js';
import { evaluate } from '../../netmodel/netfilter/index.js';
import { packet } from '../../netmodel/packet.js';

export interface KnownDifference {
  readonly id: string;
  readonly what: string;
  readonly evidence: string;
  readonly handling: string;
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    id: 'reject-tcp-reset-output-path',
    what:
      "REJECT --reject-with tcp-reset: the kernel's RST (nf_send_reset -> ip_local_out) walks the " +
      "local output path, and because the rejected connection's unconfirmed entry has no SRC NAT " +
      'binding yet (nf_nat_initialized false) nf_nat_inet_fn runs the nat POSTROUTING chains for it. ' +
      'The emulator ends the walk at the REJECT, so its nat POSTROUTING counters miss that packet.',
    evidence:
      'iptables v1.8.9 (nf_tables), Linux 6.18: FORWARD `-p tcp --dport 80 -j REJECT --reject-with ' +
      'tcp-reset` and nat `-A POSTROUTING -o r0 -j MASQUERADE`: two rejected SYNs leave [2:80] on the ' +
      'MASQUERADE rule (two 40-byte RSTs) and the clients still get ECONNREFUSED (the RST is not ' +
      'rewritten). ICMP rejects (icmp-port-unreachable) leave nat POSTROUTING at [0:0].',
    handling:
      'For every first packet the emulator rejects with tcp-reset in INPUT/FORWARD, the harness runs ' +
      "the RST through the emulated router's nat POSTROUTING with the emulator's evaluate() (counters " +
      'only; the verdict and any NAT request are ignored, as the kernel does not rewrite it).',
  },
  {
    id: 'icmp-rate-limit',
    what:
      'ICMP errors are rate-limited per destination (net.ipv4.icmp_ratelimit, per namespace) and route ' +
      'errors per source (ip_error, the host-wide net.ipv4.route.error_cost): after a burst the kernel ' +
      'stays silent where the emulator answers. The emulator does not model either token bucket.',
    evidence:
      'Without the settings below, TCP connections to an address without a route got ENETUNREACH for ' +
      'the first few and then timed out (seed 1, scenarios 0, 1, 2, 3, 5, 9).',
    handling:
      'The router namespace sets icmp_ratelimit=0 and icmp_msgs_per_sec=100000; the virtual service ' +
      'addresses 10.96.0.0/16 get a blackhole route (in both the namespace and the emulated router) ' +
      'instead of no route, since error_cost is host-wide and the harness touches nothing outside ' +
      'its namespaces.',
  },
  {
    id: 'soft-icmp-error-after-connect',
    what:
      "Not the emulator's: the client's TCP stack. When the handshake got through but the client's " +
      'ACK or data is REJECTed with an ICMP error, Linux records a soft error (tcp_v4_err, sk_err_soft) ' +
      'and whether connect()/write() reports it before the harness stops waiting depends on its ' +
      'retransmission timer: the client sees either that errno or a stalled connection. REJECTed with ' +
      'tcp-reset instead, the connected client takes the RST as a reset (ECONNRESET on its next read ' +
      'or write), not as the refusal it would be in SYN_SENT.',
    evidence:
      'Seed 321536046 scenario 4: FORWARD marks and REJECTs (icmp-host-unreachable) only the packets ' +
      'after the SYN; the real client reported EHOSTUNREACH after connecting, the emulator (correctly) ' +
      'said the ACK and token were rejected. Seed 338709383 scenario 124: INPUT `-p tcp ! --syn -j ' +
      "REJECT --reject-with tcp-reset` on the router's own listener; the real client got ECONNRESET.",
    handling:
      'The emulated answer is "stalled" carrying the errno of that ICMP error (ECONNRESET for a ' +
      'tcp-reset); a real "error" with ' +
      'exactly that errno, and no token seen by any server, is accepted for it. Everything else about ' +
      'the connection (conntrack entry, counters) is still compared exactly.',
  },
];

/** The tcp-reset RST's pass through nat POSTROUTING (see 'reject-tcp-reset-output-path'). */
export function accountRejectReset(node: KernelNode, first: WalkResult, now: number): void {
  const o = first.outcome;
  if (o.kind !== 'rejected' || o.with !== 'tcp-reset' || o.table !== 'filter') return;
  if (o.hook !== 'FORWARD' && o.hook !== 'INPUT') return;
  // The rejected packet as the filter table saw it (after DNAT): the RST answers that.
  const seen = [...first.stages].reverse().find((s) => s.kind === 'table' && s.table === 'filter');
  if (seen?.kind !== 'table' || seen.before.proto !== 'tcp') return;
  const p = seen.before;
  const back = node.routing.route(p.src);
  const oif =
    back.kind === 'unicast' || back.kind === 'local' || back.kind === 'broadcast' ? back.dev : undefined;
  const rst = packet({
    proto: 'tcp',
    src: p.dst,
    dst: p.src,
    sport: p.dport,
    dport: p.sport,
    tcp: { syn: false, ack: true, fin: false, rst: true },
    length: 40,
    ...(oif ? { oif } : {}),
  });
  evaluate(node.rules(4), 'nat', 'POSTROUTING', rst, {
    now,
    rng: { uint32: () => 0 },
    state: node.nf,
    addrType: (ip, dev) => node.routing.addrType(ip, dev),
    ct: { state: 'RELATED', dir: 'REPLY' },
  });
}
