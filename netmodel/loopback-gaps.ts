/**
 * Addresses of the cluster that have no loopback twin: under `kpath up` nothing can listen for them
 * (a 192.168.0.0/16 pod CIDR, an external IP 203.0.113.10). Each is named with the Cluster
 * spec.loopbackMap entry that would make it real: a loopback prefix of the same size whose own
 * 10.x twin range the cluster does not use. Pure: the caller logs the result.
 */
import { type IP, type Prefix, parsePrefix, prefixContains, prefixOf, prefixOverlaps } from './addr.js';
import type { ClusterSnapshot } from './cluster/snapshot.js';
import type { TwinMap } from './twins.js';

export interface LoopbackGap {
  /** What uses the address: `pod CIDR`, `service CIDR`, `node default/x`, `externalIP of svc ns/name`. */
  readonly what: string;
  /** The model prefix (a whole CIDR, or one address as /32). */
  readonly model: string;
  /** The loopbackMap entry to add, or undefined when no free loopback prefix of that size is left. */
  readonly suggestion?: { readonly model: string; readonly loopback: string };
}

const LOOPBACK = parsePrefix('127.0.0.0/8');

function twinless(twins: TwinMap, p: Prefix): boolean {
  return p.ip.family === 4 && twins.toLoopback(p.ip) === undefined;
}

/** Every IPv4 address or CIDR of the cluster without a twin, with a loopbackMap entry for each. */
export function loopbackGaps(snap: ClusterSnapshot, twins: TwinMap): LoopbackGap[] {
  const found: { what: string; p: Prefix }[] = [];
  const covered = (ip: IP) => found.some((f) => prefixContains(f.p, ip));
  const add = (what: string, p: Prefix) => {
    if (!twinless(twins, p) || covered(p.ip)) return;
    found.push({ what, p });
  };
  for (const p of snap.config.podCIDRs) add('pod CIDR', p);
  for (const n of snap.nodes) for (const p of n.podCIDRs) add(`pod CIDR of node ${n.meta.name}`, p);
  for (const p of snap.config.serviceCIDRs) add('service CIDR', p);
  for (const n of snap.nodes)
    for (const ip of n.internalIPs) add(`address of node ${n.meta.name}`, prefixOf(ip, 32));
  for (const s of snap.services) {
    const name = `${s.meta.namespace}/${s.meta.name}`;
    for (const ip of s.clusterIPs) add(`cluster IP of service ${name}`, prefixOf(ip, 32));
    for (const ip of s.externalIPs) add(`externalIP of service ${name}`, prefixOf(ip, 32));
    for (const ip of s.loadBalancerIngress) add(`load-balancer IP of service ${name}`, prefixOf(ip, 32));
  }
  for (const p of snap.pods.flatMap((x) => x.podIPs)) add('pod IP', prefixOf(p, 32));
  // Loopback prefixes already taken: the twins of the cluster's own 10.x ranges, the loopbackMap's,
  // and 127.0.0.0/16 (127.0.0.1 is the host itself).
  const taken: Prefix[] = [
    parsePrefix('127.0.0.0/16'),
    ...snap.config.loopbackMap.map((m) => m.loopback),
    ...tenTwins(snap),
  ];
  return found.map(({ what, p }) => {
    const loopback = freeLoopback(p.bits, taken);
    if (loopback) taken.push(loopback);
    return {
      what,
      model: p.text,
      ...(loopback ? { suggestion: { model: p.text, loopback: loopback.text } } : {}),
    };
  });
}

/** The 127.x ranges that twin the cluster's 10.x addresses. */
function tenTwins(snap: ClusterSnapshot): Prefix[] {
  const ten = parsePrefix('10.0.0.0/8');
  const out: Prefix[] = [];
  const twin = (p: Prefix) => {
    if (p.ip.family === 4 && prefixContains(ten, p.ip))
      out.push(parsePrefix(`127.${p.ip.text.split('.').slice(1).join('.')}/${Math.max(8, p.bits)}`));
  };
  for (const p of [
    ...snap.config.podCIDRs,
    ...snap.config.serviceCIDRs,
    snap.config.nodeCIDR,
    ...snap.config.loadBalancerPool,
  ])
    twin(p);
  for (const n of snap.nodes) for (const ip of n.internalIPs) twin(prefixOf(ip, 32));
  for (const s of snap.services)
    for (const ip of [...s.clusterIPs, ...s.externalIPs, ...s.loadBalancerIngress]) twin(prefixOf(ip, 32));
  return out;
}

/** The highest loopback prefix of `bits` that overlaps nothing taken. */
function freeLoopback(bits: number, taken: readonly Prefix[]): Prefix | undefined {
  if (bits < 9) return undefined;
  const step = 2 ** (32 - bits);
  const base = LOOPBACK.ip.family === 4 ? LOOPBACK.ip.n >>> 0 : 0;
  for (let off = 2 ** 24 - step; off >= 0; off -= step) {
    const n = (base + off) >>> 0;
    const cand = parsePrefix(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${bits}`);
    if (!taken.some((t) => prefixOverlaps(t, cand))) return cand;
  }
  return undefined;
}

/** The warning text: every gap, then the loopbackMap that would fix them, as YAML. */
export function loopbackGapsMessage(gaps: readonly LoopbackGap[]): string {
  const list = gaps.map((g) => `${g.what} ${g.model}`).join(', ');
  const entries = gaps
    .filter((g) => g.suggestion)
    .map((g) => `{model: ${g.suggestion!.model}, loopback: ${g.suggestion!.loopback}}`);
  return (
    `no loopback twin, so nothing listens for: ${list}. Only 10.0.0.0/8 has built-in twins (127.0.0.0/8)` +
    (entries.length ? `; add to the Cluster object: spec.loopbackMap: [${entries.join(', ')}]` : '')
  );
}
