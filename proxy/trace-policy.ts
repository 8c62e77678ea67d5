/**
 * The NetworkPolicy stage of a followed trace, where CNIs enforce it (Calico, Cilium, kube-router):
 * egress as the packet leaves the source pod (on its node, after that node's DNAT and before any
 * SNAT, so the destination is the endpoint, not the cluster IP), ingress as it reaches the
 * destination pod (the source as it arrives: the node's address when it was masqueraded, which only
 * an ipBlock can match). Replies of an allowed connection are not checked (conntrack lets them by).
 */
import type { ClusterSnapshot, Protocol } from '../netmodel/cluster/index.js';
import type { Packet } from '../netmodel/packet.js';
import { type DirectionVerdict, PolicyEngine } from '../netmodel/policy/index.js';

export interface PolicyStage {
  readonly node: string;
  readonly direction: 'Ingress' | 'Egress';
  readonly verdict: DirectionVerdict;
  /** The packet as the policy saw it. */
  readonly packet: Packet;
}

/** The two calls the follower makes; each returns undefined where no pod is involved. */
export interface PolicyHooks {
  /** The packet leaves a pod on `node`: `packet` is after the node's DNAT, before SNAT. */
  leavingPod(node: string, packet: Packet): PolicyStage | undefined;
  /** The packet reaches a pod (by address) on `node`. */
  arrivingAtPod(node: string, packet: Packet): PolicyStage | undefined;
}

const PROTO: Record<string, Protocol | undefined> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };

export function policyHooks(snap: ClusterSnapshot): PolicyHooks | undefined {
  if (snap.networkPolicies.length === 0) return undefined;
  const engine = new PolicyEngine(snap);
  const stage = (node: string, direction: 'Ingress' | 'Egress', p: Packet): PolicyStage | undefined => {
    const protocol = PROTO[p.proto];
    if (!protocol) return undefined;
    const verdict = engine.direction(direction, {
      src: { ip: p.src },
      dst: { ip: p.dst },
      port: p.dport,
      protocol,
    });
    return verdict ? { node, direction, verdict, packet: p } : undefined;
  };
  return {
    leavingPod: (node, p) => stage(node, 'Egress', p),
    arrivingAtPod: (node, p) => stage(node, 'Ingress', p),
  };
}

export function policyStageText(s: PolicyStage): string {
  const where = s.direction === 'Egress' ? `leaving pod ${s.verdict.pod}` : `reaching pod ${s.verdict.pod}`;
  return `NetworkPolicy ${s.direction.toLowerCase()} (${where}): ${s.verdict.allowed ? 'allowed' : 'DROPPED'}: ${s.verdict.reason}`;
}

export function policyStageJson(s: PolicyStage) {
  return {
    node: s.node,
    direction: s.direction,
    pod: s.verdict.pod,
    allowed: s.verdict.allowed,
    isolated: s.verdict.isolated,
    policies: s.verdict.policies,
    allowedBy: s.verdict.allowedBy,
    reason: s.verdict.reason,
  };
}
