/**
 * Loopback twins for Docker hosts, so `kpath up` serves them without a loopbackMap: every Docker
 * network's subnet gets the same offset in 127.0.0.0/8 with its second byte kept where it can
 * (172.17.0.0/16 -> 127.17.0.0/16, 192.168.16.0/20 -> 127.168.16.0/20); a subnet in 10.0.0.0/8
 * already has the built-in twin. A subnet the cluster's own loopbackMap covers keeps that twin.
 * Subnets whose default twin would overlap a twin already taken are left without one (emulated
 * only; the loopback-gaps warning names them).
 */
import { type Prefix, parsePrefix, prefixContains } from '../../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../../netmodel/cluster/index.js';
import type { LoopbackMapping } from '../../../netmodel/cluster/objects.js';
import { planDockerHost } from '../../../netmodel/docker/index.js';

function overlaps(a: Prefix, b: Prefix): boolean {
  return prefixContains(a, b.ip) || prefixContains(b, a.ip);
}

/** The default twin of a Docker subnet: 127.B.C.D for A.B.C.D, same prefix length (>= /8). */
function defaultTwin(subnet: Prefix): Prefix | undefined {
  if (subnet.ip.family !== 4 || subnet.bits < 8) return undefined;
  const n = subnet.ip.n;
  const t = ((127 << 24) | (n & 0x00ffffff)) >>> 0;
  return parsePrefix(`${[t >>> 24, (t >>> 16) & 255, (t >>> 8) & 255, t & 255].join('.')}/${subnet.bits}`);
}

/** The mappings to add to the cluster's loopbackMap for the snapshot's Docker hosts. */
export function dockerLoopbackMap(snap: ClusterSnapshot): LoopbackMapping[] {
  const out: LoopbackMapping[] = [];
  const taken = snap.config.loopbackMap.map((m) => m.loopback);
  const covered = (p: Prefix) =>
    prefixContains(parsePrefix('10.0.0.0/8'), p.ip) ||
    snap.config.loopbackMap.some((m) => prefixContains(m.model, p.ip)) ||
    out.some((m) => prefixContains(m.model, p.ip));
  for (const h of snap.dockerHosts)
    for (const n of planDockerHost(h).plan.networks) {
      if (covered(n.subnet)) continue;
      const twin = defaultTwin(n.subnet);
      if (!twin || taken.some((t) => overlaps(t, twin))) continue;
      taken.push(twin);
      out.push({ model: n.subnet, loopback: twin });
    }
  return out;
}
