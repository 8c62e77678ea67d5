/**
 * The NetworkPolicy evaluator: one pure function of a snapshot and a connection, with its reasons.
 *
 * Semantics (networking.k8s.io/v1, as the sig-network e2e suite checks them):
 * - a policy selects pods of its own namespace by spec.podSelector ({} selects all); a pod selected by
 *   any policy whose policyTypes holds a direction is isolated for that direction;
 * - an isolated pod accepts what the union of the selecting policies' rules allows; a pod selected by
 *   none is not isolated and allows everything;
 * - a rule matches when one of its peers matches (absent or empty `from`/`to`: every peer) and one of
 *   its ports matches (absent or empty `ports`: every port and protocol);
 * - a peer with podSelector only: pods of the policy's namespace; namespaceSelector only: every pod of
 *   the matching namespaces; both: pods matching podSelector in namespaces matching namespaceSelector;
 *   ipBlock: the address is in cidr and in none of except;
 * - a numeric port (with endPort: a range) matches the destination port; a named port is resolved
 *   against the destination pod's container ports (name and protocol);
 * - hostNetwork pods are neither selected nor matched by pod selectors (they are the node: the
 *   behaviour upstream leaves to the implementation, and what Calico and Cilium do);
 * - traffic from a pod to itself is always allowed (the e2e suite's AllowLoopback).
 *
 * The addresses are those the CNI sees: on egress the destination after DNAT (a service's endpoint,
 * not its cluster IP) and the source before SNAT (the pod); on ingress the packet as it arrives, so a
 * masqueraded client is the node's address and matches only an ipBlock.
 */
import { type IP, prefixContains } from '../addr.js';
import type {
  ClusterSnapshot,
  LabelSelector,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NetworkPolicyRule,
  Pod,
  PolicyType,
  Protocol,
} from '../cluster/index.js';
import { matchesRequirement } from '../cluster/index.js';

type Labels = Readonly<Record<string, string>>;

/**
 * Selectors compiled once per selector object: the matchLabels pairs as arrays, so a match reads
 * labels without allocating (the same semantics as cluster/selector.ts matchesSelector).
 */
const compiledSelectors = new WeakMap<LabelSelector, (labels: Labels) => boolean>();

function matches(sel: LabelSelector, labels: Labels): boolean {
  let fn = compiledSelectors.get(sel);
  if (!fn) {
    const keys = Object.keys(sel.matchLabels);
    const values = keys.map((k) => sel.matchLabels[k]!);
    const exprs = sel.matchExpressions;
    fn = (l) => {
      for (let i = 0; i < keys.length; i++)
        if (l[keys[i]!] !== values[i] || !Object.hasOwn(l, keys[i]!)) return false;
      for (const r of exprs) if (!matchesRequirement(r, l)) return false;
      return true;
    };
    compiledSelectors.set(sel, fn);
  }
  return fn(labels);
}

export type Direction = 'Ingress' | 'Egress';

/** One side of a connection: an address, and the pod that has it when there is one. */
export interface PolicyEnd {
  readonly ip: IP;
  readonly pod?: Pod;
}

export interface PolicyConnection {
  readonly src: PolicyEnd;
  readonly dst: PolicyEnd;
  readonly port: number;
  readonly protocol: Protocol;
}

/** A rule that allowed a connection. */
export interface RuleRef {
  /** `namespace/name` of the policy. */
  readonly policy: string;
  readonly direction: Direction;
  /** Index in spec.ingress or spec.egress. */
  readonly rule: number;
  /** file:line of the rule, when the policy came from a manifest. */
  readonly origin?: string;
}

export interface DirectionVerdict {
  readonly direction: Direction;
  /** The pod whose policies decide (`namespace/name`): the source for egress, the destination for ingress. */
  readonly pod: string;
  readonly allowed: boolean;
  /** Selected by at least one policy for this direction. */
  readonly isolated: boolean;
  /** The selecting policies (`namespace/name`), in name order. */
  readonly policies: readonly string[];
  /** Every rule that allows the connection (the first one is named in `reason`). */
  readonly allowedBy: readonly RuleRef[];
  readonly reason: string;
}

export interface PolicyDecision {
  readonly allowed: boolean;
  /** At the source pod; absent when the source is not a pod. */
  readonly egress?: DirectionVerdict;
  /** At the destination pod; absent when the destination is not a pod. */
  readonly ingress?: DirectionVerdict;
  /** Set when policy does not apply at all (a pod talking to itself). */
  readonly note?: string;
}

interface Selecting {
  readonly ingress: readonly NetworkPolicy[];
  readonly egress: readonly NetworkPolicy[];
}

const NONE: Selecting = { ingress: [], egress: [] };

function key(o: { meta: { namespace: string; name: string } }): string {
  return `${o.meta.namespace}/${o.meta.name}`;
}

function byName(a: NetworkPolicy, b: NetworkPolicy): number {
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** `TCP/80`. */
export function portText(protocol: Protocol, port: number): string {
  return `${protocol}/${port}`;
}

function ruleRef(p: NetworkPolicy, direction: Direction, i: number, r: NetworkPolicyRule): RuleRef {
  return { policy: key(p), direction, rule: i, ...(r.origin ? { origin: r.origin } : {}) };
}

export function ruleText(r: RuleRef): string {
  return `${r.policy} ${r.direction.toLowerCase()}[${r.rule}]${r.origin ? ` (${r.origin})` : ''}`;
}

/**
 * The policies of one snapshot, indexed: which policies select each pod for each direction, pods by
 * address, namespace labels. Built once per snapshot; every decision after that is lookups and the
 * rules of the selecting policies only.
 */
export class PolicyEngine {
  private readonly selecting = new Map<string, Selecting>();
  /** The same, by pod object (the snapshot's own pods), so the hot path builds no key strings. */
  private readonly selectingByPod = new Map<Pod, Selecting>();
  private readonly podsByIP = new Map<string, Pod>();
  private readonly nsLabels = new Map<string, Readonly<Record<string, string>>>();
  readonly policyCount: number;

  constructor(snap: Pick<ClusterSnapshot, 'pods' | 'namespaces' | 'networkPolicies'>) {
    this.policyCount = snap.networkPolicies.length;
    for (const n of snap.namespaces) this.nsLabels.set(n.meta.name, n.meta.labels);
    const podsByNs = new Map<string, Pod[]>();
    for (const p of snap.pods) {
      if (p.hostNetwork) continue;
      for (const ip of p.podIPs) this.podsByIP.set(ip.text, p);
      const list = podsByNs.get(p.meta.namespace) ?? [];
      list.push(p);
      podsByNs.set(p.meta.namespace, list);
    }
    const acc = new Map<string, { ingress: NetworkPolicy[]; egress: NetworkPolicy[] }>();
    for (const pol of [...snap.networkPolicies].sort(byName)) {
      const ing = pol.policyTypes.includes('Ingress');
      const eg = pol.policyTypes.includes('Egress');
      if (!ing && !eg) continue;
      for (const pod of podsByNs.get(pol.meta.namespace) ?? []) {
        if (!matches(pol.podSelector, pod.meta.labels)) continue;
        const k = key(pod);
        let s = acc.get(k);
        if (!s) {
          s = { ingress: [], egress: [] };
          acc.set(k, s);
        }
        if (ing) s.ingress.push(pol);
        if (eg) s.egress.push(pol);
      }
    }
    for (const [k, s] of acc) this.selecting.set(k, s);
    for (const p of snap.pods) {
      const s = acc.get(key(p));
      if (s && !p.hostNetwork) this.selectingByPod.set(p, s);
    }
  }

  /** The pod (not host-network) that has this address, if any. */
  podByIP(ip: IP): Pod | undefined {
    return this.podsByIP.get(ip.text);
  }

  /** The policies selecting a pod for a direction, in name order. */
  policiesFor(pod: Pod, direction: Direction): readonly NetworkPolicy[] {
    const s = this.selectingByPod.get(pod) ?? this.selecting.get(key(pod)) ?? NONE;
    return direction === 'Ingress' ? s.ingress : s.egress;
  }

  /**
   * The verdict alone, without reasons (the matrix and the real proxy's hot path): the same answer
   * as `check(c).allowed`, computed without building any text.
   */
  allows(c: PolicyConnection): boolean {
    const src =
      c.src.pod && !c.src.pod.hostNetwork
        ? c.src.pod
        : c.src.pod
          ? undefined
          : this.podsByIP.get(c.src.ip.text);
    const dst =
      c.dst.pod && !c.dst.pod.hostNetwork
        ? c.dst.pod
        : c.dst.pod
          ? undefined
          : this.podsByIP.get(c.dst.ip.text);
    if (src && dst && (src === dst || key(src) === key(dst))) return true;
    const conn: PolicyConnection = {
      src: src ? { ip: c.src.ip, pod: src } : { ip: c.src.ip },
      dst: dst ? { ip: c.dst.ip, pod: dst } : { ip: c.dst.ip },
      port: c.port,
      protocol: c.protocol,
    };
    if (src && !this.allowedFor('Egress', src, conn)) return false;
    return !dst || this.allowedFor('Ingress', dst, conn);
  }

  private allowedFor(direction: Direction, pod: Pod, c: PolicyConnection): boolean {
    const policies = this.policiesFor(pod, direction);
    if (policies.length === 0) return true;
    const peer = direction === 'Ingress' ? c.src : c.dst;
    for (const pol of policies) {
      for (const r of direction === 'Ingress' ? pol.ingress : pol.egress)
        if (this.ruleMatches(pol, r, peer, c)) return true;
    }
    return false;
  }

  /** Both directions of a connection; allowed only when each side that is a pod allows it. */
  check(c: PolicyConnection): PolicyDecision {
    const src = this.resolve(c.src);
    const dst = this.resolve(c.dst);
    const conn: PolicyConnection = { ...c, src, dst };
    if (src.pod && dst.pod && key(src.pod) === key(dst.pod)) {
      return { allowed: true, note: `traffic from ${key(src.pod)} to itself never leaves the pod` };
    }
    const egress = src.pod ? this.decide('Egress', src.pod, conn) : undefined;
    const ingress = dst.pod ? this.decide('Ingress', dst.pod, conn) : undefined;
    return {
      allowed: (egress?.allowed ?? true) && (ingress?.allowed ?? true),
      ...(egress ? { egress } : {}),
      ...(ingress ? { ingress } : {}),
    };
  }

  /** One direction: egress at the source pod, ingress at the destination pod. */
  direction(direction: Direction, c: PolicyConnection): DirectionVerdict | undefined {
    const conn: PolicyConnection = { ...c, src: this.resolve(c.src), dst: this.resolve(c.dst) };
    const pod = direction === 'Egress' ? conn.src.pod : conn.dst.pod;
    if (!pod) return undefined;
    if (conn.src.pod && conn.dst.pod && key(conn.src.pod) === key(conn.dst.pod)) {
      return {
        direction,
        pod: key(pod),
        allowed: true,
        isolated: this.policiesFor(pod, direction).length > 0,
        policies: this.policiesFor(pod, direction).map(key),
        allowedBy: [],
        reason: `traffic from ${key(pod)} to itself never leaves the pod: NetworkPolicy does not apply`,
      };
    }
    return this.decide(direction, pod, conn);
  }

  private resolve(e: PolicyEnd): PolicyEnd {
    if (e.pod) return e.pod.hostNetwork ? { ip: e.ip } : e;
    const pod = this.podsByIP.get(e.ip.text);
    return pod ? { ip: e.ip, pod } : e;
  }

  private decide(direction: Direction, pod: Pod, c: PolicyConnection): DirectionVerdict {
    const policies = this.policiesFor(pod, direction);
    const names = policies.map(key);
    const podKey = key(pod);
    if (policies.length === 0) {
      return {
        direction,
        pod: podKey,
        allowed: true,
        isolated: false,
        policies: [],
        allowedBy: [],
        reason: `no NetworkPolicy selects ${podKey} for ${direction.toLowerCase()}: not isolated`,
      };
    }
    const peer = direction === 'Ingress' ? c.src : c.dst;
    const allowedBy: RuleRef[] = [];
    for (const pol of policies) {
      const rules = direction === 'Ingress' ? pol.ingress : pol.egress;
      rules.forEach((r, i) => {
        if (this.ruleMatches(pol, r, peer, c)) allowedBy.push(ruleRef(pol, direction, i, r));
      });
    }
    const what = `${portText(c.protocol, c.port)} ${direction === 'Ingress' ? 'from' : 'to'} ${peer.ip.text}${peer.pod ? ` (pod ${key(peer.pod)})` : ''}`;
    if (allowedBy.length > 0) {
      return {
        direction,
        pod: podKey,
        allowed: true,
        isolated: true,
        policies: names,
        allowedBy,
        reason: `${what} allowed by ${ruleText(allowedBy[0]!)}`,
      };
    }
    return {
      direction,
      pod: podKey,
      allowed: false,
      isolated: true,
      policies: names,
      allowedBy: [],
      reason: `${podKey} is isolated for ${direction.toLowerCase()} by ${names.join(', ')}; no rule allows ${what}`,
    };
  }

  private ruleMatches(
    pol: NetworkPolicy,
    r: NetworkPolicyRule,
    peer: PolicyEnd,
    c: PolicyConnection,
  ): boolean {
    if (r.ports.length > 0 && !r.ports.some((p) => this.portMatches(p, c))) return false;
    if (r.peers.length === 0) return true;
    return r.peers.some((p) => this.peerMatches(pol, p, peer));
  }

  private portMatches(p: NetworkPolicyPort, c: PolicyConnection): boolean {
    if (p.protocol !== c.protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number') return c.port >= p.port && c.port <= (p.endPort ?? p.port);
    // A named port means the destination pod's container port of that name and protocol.
    const dst = c.dst.pod;
    if (!dst) return false;
    for (const ct of dst.containers)
      for (const cp of ct.ports)
        if (cp.name === p.port && cp.protocol === p.protocol && cp.containerPort === c.port) return true;
    return false;
  }

  private peerMatches(pol: NetworkPolicy, p: NetworkPolicyPeer, peer: PolicyEnd): boolean {
    if (p.ipBlock) {
      const b = p.ipBlock;
      return prefixContains(b.cidr, peer.ip) && !b.except.some((e) => prefixContains(e, peer.ip));
    }
    const pod = peer.pod;
    if (!pod) return false;
    if (p.namespaceSelector) {
      const labels = this.nsLabels.get(pod.meta.namespace) ?? {};
      if (!matches(p.namespaceSelector, labels)) return false;
    } else if (pod.meta.namespace !== pol.meta.namespace) return false;
    return p.podSelector ? matches(p.podSelector, pod.meta.labels) : true;
  }
}

/** policyTypes as kubectl describe words them. */
export function policyTypesText(t: readonly PolicyType[]): string {
  return t.join(', ');
}
