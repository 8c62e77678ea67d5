/**
 * Allocation of what the control plane would assign: node pod CIDRs and addresses, service cluster IPs,
 * node ports, health-check node ports, LoadBalancer ingress IPs, pod IPs. Deterministic: given values
 * are reserved first (duplicates are errors, as the apiserver's "provided IP is already allocated"),
 * then the rest are placed by a hash of the object's name with linear probing, so adding one object
 * does not move the others. Like the apiserver, dynamic allocation prefers the upper part of a range
 * and leaves a lower "static" band for addresses people pick by hand (KEP-3070, KEP-3668).
 */
import {
  type Family,
  type IP,
  ipEquals,
  maxBits,
  type Prefix,
  prefixContains,
  prefixNth,
  prefixOf,
  prefixOffset,
  prefixSize,
} from '../addr.js';

import type { Reporter } from './diagnostics.js';
import { fnv1a32, mix32, uidFor } from './hash.js';
import type { ClusterConfig, NetworkPlugin, Node, Pod, Service, ServicePort } from './objects.js';

/** A set of integer offsets in [lo, hi], with hash placement and a preferred upper band. */
export class OffsetAllocator {
  private readonly used = new Set<bigint>();
  readonly lo: bigint;
  readonly hi: bigint;
  private readonly bandEnd: bigint;

  /** Offsets lo..hi inclusive; offsets below lo+band are only used once the upper part is full. */
  constructor(lo: bigint, hi: bigint, band: bigint) {
    this.lo = lo;
    this.hi = hi;
    this.bandEnd = lo + band > hi ? lo : lo + band;
  }

  has(o: bigint): boolean {
    return this.used.has(o);
  }

  inRange(o: bigint): boolean {
    return o >= this.lo && o <= this.hi;
  }

  reserve(o: bigint): boolean {
    if (this.used.has(o)) return false;
    this.used.add(o);
    return true;
  }

  /** Place a new offset for `key`, or undefined when full. */
  allocate(key: string): bigint | undefined {
    const upper = this.probe(key, this.bandEnd, this.hi);
    if (upper !== undefined) return upper;
    return this.probe(key, this.lo, this.bandEnd - 1n);
  }

  private probe(key: string, lo: bigint, hi: bigint): bigint | undefined {
    if (hi < lo) return undefined;
    const size = hi - lo + 1n;
    const start = BigInt(fnv1a32(key)) % size;
    // Linear probing; bounded by the size of the range (ranges kpath allocates from are small enough,
    // and IPv6 ranges are effectively never full).
    const limit = size < 1_000_000n ? size : 1_000_000n;
    for (let i = 0n; i < limit; i++) {
      const o = lo + ((start + i) % size);
      if (!this.used.has(o)) {
        this.used.add(o);
        return o;
      }
    }
    return undefined;
  }
}

/** The apiserver's static band: min(max(16, size/16), 256) addresses at the bottom of the range. */
export function staticBand(size: bigint): bigint {
  const s = size / 16n;
  return s < 16n ? 16n : s > 256n ? 256n : s;
}

function familyName(f: Family): string {
  return f === 4 ? 'IPv4' : 'IPv6';
}

/** Give every node pod CIDRs (a /24 of the cluster's pod CIDR unless set) and an InternalIP. */
export function allocateNodes(nodes: readonly Node[], config: ClusterConfig, report: Reporter): Node[] {
  const list: Node[] = nodes.length
    ? [...nodes]
    : [
        {
          kind: 'Node',
          meta: {
            name: 'node-1',
            namespace: '',
            labels: { 'kubernetes.io/hostname': 'node-1', 'kubernetes.io/os': 'linux' },
            annotations: {},
            uid: uidFor('Node//node-1'),
          },
          podCIDRs: [],
          internalIPs: [],
          addresses: [],
          taints: [],
          unschedulable: false,
          ready: true,
          raw: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } },
          derived: true,
        },
      ];
  const sorted = list.map((n, i) => ({ n, i })).sort((a, b) => (a.n.meta.name < b.n.meta.name ? -1 : 1));
  // Pod CIDRs.
  const cidrAlloc = config.podCIDRs.map((p) => {
    const mask =
      p.ip.family === 4 ? config.nodeCIDRMaskSize.v4 : Math.max(config.nodeCIDRMaskSize.v6, p.bits);
    const count = 1n << BigInt(Math.max(0, mask - p.bits));
    return { cluster: p, mask, used: new Set<bigint>(), count };
  });
  const result = new Map<number, { podCIDRs: Prefix[]; internalIPs: IP[] }>();
  for (const { n, i } of sorted) {
    for (const c of n.podCIDRs) {
      const a = cidrAlloc.find((x) => x.cluster.ip.family === c.ip.family);
      if (!a) continue;
      if (!(prefixContains(a.cluster, c.ip) && c.bits >= a.cluster.bits)) {
        report.error(
          n.meta.origin,
          { kind: 'Node', name: n.meta.name },
          ['spec', 'podCIDR'],
          `${c.text} is outside the cluster pod CIDR ${a.cluster.text}`,
        );
        continue;
      }
      const idx = prefixOffset(a.cluster, c.ip) >> BigInt(maxBits(c.ip.family) - a.mask);
      if (c.bits === a.mask && !a.used.has(idx)) a.used.add(idx);
      else if (c.bits === a.mask) {
        report.error(
          n.meta.origin,
          { kind: 'Node', name: n.meta.name },
          ['spec', 'podCIDR'],
          `${c.text} is already assigned to another node`,
        );
      }
    }
    result.set(i, { podCIDRs: [...n.podCIDRs], internalIPs: [...n.internalIPs] });
  }
  const overlapCheck: { node: string; p: Prefix }[] = [];
  for (const { n } of sorted)
    for (const p of n.podCIDRs) {
      const other = overlapCheck.find(
        (o) => o.p.ip.family === p.ip.family && (prefixContains(o.p, p.ip) || prefixContains(p, o.p.ip)),
      );
      if (other && other.p.bits !== p.bits) {
        report.error(
          n.meta.origin,
          { kind: 'Node', name: n.meta.name },
          ['spec', 'podCIDR'],
          `${p.text} overlaps ${other.p.text} of node ${other.node}`,
        );
      }
      overlapCheck.push({ node: n.meta.name, p });
    }
  for (const { n, i } of sorted) {
    const r = result.get(i)!;
    for (const a of cidrAlloc) {
      if (r.podCIDRs.some((p) => p.ip.family === a.cluster.ip.family)) continue;
      let idx = 0n;
      while (idx < a.count && a.used.has(idx)) idx++;
      if (idx >= a.count) {
        report.error(
          n.meta.origin,
          { kind: 'Node', name: n.meta.name },
          ['spec', 'podCIDR'],
          `no free /${a.mask} left in ${a.cluster.text}; give a larger Cluster spec.podCIDR`,
        );
        continue;
      }
      a.used.add(idx);
      const net = prefixNth(a.cluster, idx << BigInt(maxBits(a.cluster.ip.family) - a.mask));
      r.podCIDRs.push(prefixOf(net, a.mask));
    }
  }
  // Node addresses from the node CIDR, from .11 upwards.
  const taken = new Set<string>();
  for (const { i } of sorted) for (const ip of result.get(i)!.internalIPs) taken.add(ip.text);
  let next = 11n;
  for (const { n, i } of sorted) {
    const r = result.get(i)!;
    if (r.internalIPs.some((ip) => ip.family === config.nodeCIDR.ip.family)) continue;
    while (next < prefixSize(config.nodeCIDR) - 1n && taken.has(prefixNth(config.nodeCIDR, next).text))
      next++;
    if (next >= prefixSize(config.nodeCIDR) - 1n) {
      report.error(
        n.meta.origin,
        { kind: 'Node', name: n.meta.name },
        ['status', 'addresses'],
        `no free address left in the node CIDR ${config.nodeCIDR.text}`,
      );
      continue;
    }
    const ip = prefixNth(config.nodeCIDR, next++);
    taken.add(ip.text);
    r.internalIPs.push(ip);
  }
  return list.map((n, i) => {
    const r = result.get(i)!;
    const addresses = n.addresses.some((a) => a.type === 'InternalIP')
      ? n.addresses
      : [...r.internalIPs.map((ip) => ({ type: 'InternalIP' as const, address: ip.text })), ...n.addresses];
    const hasHostname = addresses.some((a) => a.type === 'Hostname');
    return {
      ...n,
      podCIDRs: r.podCIDRs.sort((a, b) => a.ip.family - b.ip.family),
      internalIPs: r.internalIPs,
      addresses: hasHostname
        ? addresses
        : [...addresses, { type: 'Hostname' as const, address: n.meta.name }],
    };
  });
}

function svcRef(s: Service) {
  return { kind: 'Service', namespace: s.meta.namespace, name: s.meta.name };
}

/**
 * Cluster IPs, node ports, health-check node ports and LoadBalancer ingress addresses. Given values
 * are checked (inside the CIDR or range, not taken twice) and reserved before anything is allocated.
 */
export function allocateServices(
  services: readonly Service[],
  config: ClusterConfig,
  report: Reporter,
): Service[] {
  const ipAllocs = new Map<Family, { cidr: Prefix; alloc: OffsetAllocator; owner: Map<bigint, string> }>();
  for (const cidr of config.serviceCIDRs) {
    const size = prefixSize(cidr);
    // IPv4: the network and broadcast addresses are never allocated; IPv6: only the subnet-router anycast (offset 0).
    const hi = cidr.ip.family === 4 ? size - 2n : size - 1n;
    ipAllocs.set(cidr.ip.family, {
      cidr,
      alloc: new OffsetAllocator(1n, hi, staticBand(size)),
      owner: new Map(),
    });
  }
  const { min, max } = config.nodePortRange;
  const npSize = BigInt(max - min + 1);
  const npBand = (() => {
    const s = npSize / 32n;
    return s < 16n ? 16n : s > 128n ? 128n : s;
  })();
  const ports = new OffsetAllocator(BigInt(min), BigInt(max), npBand);
  const portOwner = new Map<number, string>();
  const lbAlloc = config.loadBalancerPool.map((p) => ({
    p,
    alloc: new OffsetAllocator(1n, prefixSize(p) - 2n, 0n),
  }));

  const sorted = services
    .map((s, i) => ({ s, i }))
    .sort((a, b) => {
      const ka = `${a.s.meta.namespace}/${a.s.meta.name}`;
      const kb = `${b.s.meta.namespace}/${b.s.meta.name}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  const out = new Map<number, Service>();

  // Pass 1: reserve given values.
  for (const { s } of sorted) {
    const key = `${s.meta.namespace}/${s.meta.name}`;
    s.clusterIPs.forEach((ip, i) => {
      const path = s.clusterIPs.length > 1 ? ['spec', 'clusterIPs', i] : ['spec', 'clusterIP'];
      const a = ipAllocs.get(ip.family);
      if (!a) {
        report.error(
          s.meta.origin,
          svcRef(s),
          path,
          `${ip.text} is ${familyName(ip.family)} but the cluster has no ${familyName(ip.family)} service CIDR (Cluster spec.serviceCIDR)`,
        );
        return;
      }
      if (!prefixContains(a.cidr, ip)) {
        report.error(s.meta.origin, svcRef(s), path, `${ip.text} is not in the service CIDR ${a.cidr.text}`);
        return;
      }
      const o = prefixOffset(a.cidr, ip);
      if (!a.alloc.inRange(o)) {
        report.error(
          s.meta.origin,
          svcRef(s),
          path,
          `${ip.text} is the ${o === 0n ? 'network' : 'broadcast'} address of ${a.cidr.text} and cannot be used`,
        );
        return;
      }
      if (!a.alloc.reserve(o)) {
        report.error(
          s.meta.origin,
          svcRef(s),
          path,
          `${ip.text} is already allocated to service ${a.owner.get(o)}`,
        );
        return;
      }
      a.owner.set(o, key);
    });
    const reservedHere = new Map<number, string>();
    s.ports.forEach((p, i) => {
      if (p.nodePort === null) return;
      const path = ['spec', 'ports', i, 'nodePort'];
      if (p.nodePort < min || p.nodePort > max) {
        report.error(
          s.meta.origin,
          svcRef(s),
          path,
          `${p.nodePort} is not in the node port range ${min}-${max} (Cluster spec.nodePortRange)`,
        );
        return;
      }
      const mine = reservedHere.get(p.nodePort);
      if (mine !== undefined) {
        if (mine === p.protocol)
          report.error(
            s.meta.origin,
            svcRef(s),
            path,
            `duplicate node port ${p.nodePort}/${p.protocol} in this service`,
          );
        return; // the same node port for another protocol of the same service is allowed
      }
      if (!ports.reserve(BigInt(p.nodePort))) {
        report.error(
          s.meta.origin,
          svcRef(s),
          path,
          `provided port ${p.nodePort} is already allocated to service ${portOwner.get(p.nodePort)}`,
        );
        return;
      }
      reservedHere.set(p.nodePort, p.protocol);
      portOwner.set(p.nodePort, key);
    });
    if (s.healthCheckNodePort !== null) {
      const path = ['spec', 'healthCheckNodePort'];
      if (s.healthCheckNodePort < min || s.healthCheckNodePort > max) {
        report.error(
          s.meta.origin,
          svcRef(s),
          path,
          `${s.healthCheckNodePort} is not in the node port range ${min}-${max}`,
        );
      } else if (!ports.reserve(BigInt(s.healthCheckNodePort))) {
        report.error(
          s.meta.origin,
          svcRef(s),
          path,
          `provided port ${s.healthCheckNodePort} is already allocated to service ${portOwner.get(s.healthCheckNodePort)}`,
        );
      } else portOwner.set(s.healthCheckNodePort, key);
    }
    for (const ip of s.loadBalancerIngress) {
      const a = lbAlloc.find((x) => prefixContains(x.p, ip));
      if (a) a.alloc.reserve(prefixOffset(a.p, ip));
    }
  }

  // Pass 2: allocate what is missing.
  for (const { s, i } of sorted) {
    const key = `${s.meta.namespace}/${s.meta.name}`;
    let clusterIPs = [...s.clusterIPs];
    let ipFamilies = [...s.ipFamilies];
    if (s.type !== 'ExternalName' && !s.headless) {
      const available = config.serviceCIDRs.map((c) => c.ip.family);
      if (ipFamilies.length === 0) {
        ipFamilies = s.ipFamilyPolicy === 'SingleStack' ? available.slice(0, 1) : available.slice(0, 2);
      } else if (
        s.ipFamilyPolicy === 'PreferDualStack' &&
        ipFamilies.length === 1 &&
        available.length === 2
      ) {
        ipFamilies.push(available.find((f) => f !== ipFamilies[0])!);
      }
      if (s.ipFamilyPolicy === 'RequireDualStack' && available.length < 2) {
        report.error(
          s.meta.origin,
          svcRef(s),
          ['spec', 'ipFamilyPolicy'],
          'RequireDualStack needs a dual-stack cluster (Cluster spec.serviceCIDR with one IPv4 and one IPv6 CIDR)',
        );
      }
      for (const fam of ipFamilies) {
        if (clusterIPs.some((ip) => ip.family === fam)) continue;
        const a = ipAllocs.get(fam);
        if (!a) {
          report.error(
            s.meta.origin,
            svcRef(s),
            ['spec', 'ipFamilies'],
            `the cluster has no ${familyName(fam)} service CIDR`,
          );
          continue;
        }
        const o = a.alloc.allocate(`${key}/${fam}`);
        if (o === undefined) {
          report.error(
            s.meta.origin,
            svcRef(s),
            ['spec', 'clusterIP'],
            `the service CIDR ${a.cidr.text} is full; give a larger Cluster spec.serviceCIDR`,
          );
          continue;
        }
        a.owner.set(o, key);
        clusterIPs.push(prefixNth(a.cidr, o));
      }
      clusterIPs = ipFamilies
        .map((f) => clusterIPs.find((ip) => ip.family === f))
        .filter((x): x is IP => x !== undefined);
    } else if (s.headless && ipFamilies.length === 0) {
      ipFamilies = config.serviceCIDRs
        .map((c) => c.ip.family)
        .slice(0, s.ipFamilyPolicy === 'SingleStack' ? 1 : 2);
    }
    const external = s.type === 'NodePort' || s.type === 'LoadBalancer';
    const allocatedByNumber = new Map<number, number>();
    const newPorts: ServicePort[] = s.ports.map((p, pi) => {
      if (!external || p.nodePort !== null) return p;
      // Ports of one service with the same port number share the node port (kubectl expose tcp+udp).
      const same = s.ports.findIndex((q, qi) => qi < pi && q.port === p.port);
      if (same >= 0 && allocatedByNumber.has(same)) return { ...p, nodePort: allocatedByNumber.get(same)! };
      const o = ports.allocate(`${key}:${p.name}:${p.port}/${p.protocol}`);
      if (o === undefined) {
        report.error(
          s.meta.origin,
          svcRef(s),
          ['spec', 'ports', pi, 'nodePort'],
          `the node port range ${min}-${max} is full`,
        );
        return p;
      }
      portOwner.set(Number(o), key);
      allocatedByNumber.set(pi, Number(o));
      return { ...p, nodePort: Number(o) };
    });
    let healthCheckNodePort = s.healthCheckNodePort;
    if (s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local' && healthCheckNodePort === null) {
      const o = ports.allocate(`${key}:healthcheck`);
      if (o !== undefined) healthCheckNodePort = Number(o);
    }
    let loadBalancerIngress = [...s.loadBalancerIngress];
    if (s.type === 'LoadBalancer' && loadBalancerIngress.length === 0) {
      for (const fam of ipFamilies) {
        const a = lbAlloc.find((x) => x.p.ip.family === fam);
        const o = a?.alloc.allocate(key);
        if (a && o !== undefined) loadBalancerIngress.push(prefixNth(a.p, o));
      }
      if (loadBalancerIngress.length === 0) {
        report.warning(
          s.meta.origin,
          svcRef(s),
          ['status', 'loadBalancer'],
          'no LoadBalancer address could be allocated (Cluster spec.loadBalancerPool)',
        );
      }
    }
    if (s.type !== 'LoadBalancer') loadBalancerIngress = [];
    out.set(i, { ...s, clusterIPs, ipFamilies, ports: newPorts, healthCheckNodePort, loadBalancerIngress });
  }
  return services.map((_, i) => out.get(i)!);
}

/**
 * Pod IPs from their node's pod CIDR, as host-local IPAM hands them out: the bridge takes .1, pods
 * get .2 upwards in order. Given pod IPs are kept (and checked to be inside the node's CIDR).
 * hostNetwork pods share the node's address.
 */
export function allocatePodIPs(
  pods: readonly Pod[],
  nodes: readonly Node[],
  report: Reporter,
  plugin: NetworkPlugin = 'bridge',
): Pod[] {
  const byName = new Map(nodes.map((n) => [n.meta.name, n]));
  const used = new Map<string, Set<string>>();
  const owner = new Map<string, string>();
  const podRef = (p: Pod) => ({ kind: 'Pod', namespace: p.meta.namespace, name: p.meta.name });
  for (const p of pods) {
    if (p.hostNetwork || !p.nodeName) continue;
    const node = byName.get(p.nodeName);
    p.podIPs.forEach((ip, i) => {
      const path = p.podIPs.length > 1 ? ['status', 'podIPs', i] : ['status', 'podIP'];
      const cidr = node?.podCIDRs.find((c) => c.ip.family === ip.family);
      if (node && cidr && !prefixContains(cidr, ip)) {
        report.error(
          p.meta.origin,
          podRef(p),
          path,
          `${ip.text} is not in node ${node.meta.name}'s pod CIDR ${cidr.text}`,
        );
      }
      // The apiserver accepts any address; under a bridge (bridge, flannel) .1 is cni0's gateway and
      // the network address is flannel.1's, so such a pod is warned about, not refused. Calico has neither.
      if (
        plugin !== 'calico' &&
        node &&
        cidr &&
        (ipEquals(ip, cidr.ip) || ipEquals(ip, prefixNth(cidr, 1n)))
      ) {
        report.warning(
          p.meta.origin,
          podRef(p),
          path,
          ipEquals(ip, cidr.ip)
            ? `${ip.text} is the network address of node ${node.meta.name}'s pod CIDR ${cidr.text}${plugin === 'flannel' ? ' (flannel.1 has it)' : ''}: it conflicts with the ${plugin} network's own address`
            : `${ip.text} is cni0's gateway address on node ${node.meta.name} (the ${plugin} plugin gives the bridge the pod CIDR's .1): the pod and the bridge share it, so traffic to it reaches the node`,
        );
      }
      const prev = owner.get(ip.text);
      if (prev)
        report.error(p.meta.origin, podRef(p), path, `${ip.text} is already the address of pod ${prev}`);
      owner.set(ip.text, `${p.meta.namespace}/${p.meta.name}`);
      const set = used.get(p.nodeName!) ?? new Set<string>();
      set.add(ip.text);
      used.set(p.nodeName!, set);
    });
  }
  // Every pod still without an address in a CIDR gets one from a hash of its namespace and name:
  // its home address. A home another pod already holds, or that a pod earlier in name order also
  // hashes to, is taken by linear probing after every home is settled, so a pod's address depends on
  // the others only when two homes collide.
  const wants: { p: Pod; node: Node; cidr: Prefix; key: string; home: bigint }[] = [];
  for (const p of pods) {
    if (!p.nodeName || p.hostNetwork || p.phase === 'Succeeded' || p.phase === 'Failed') continue;
    const node = byName.get(p.nodeName);
    if (!node) continue;
    for (const cidr of node.podCIDRs) {
      if (p.podIPs.some((ip) => ip.family === cidr.ip.family)) continue;
      const key = `${p.meta.namespace}/${p.meta.name}`;
      const slots = podSlots(cidr);
      wants.push({ p, node, cidr, key, home: 2n + (BigInt(mix32(key)) % slots) });
    }
  }
  const got = new Map<Pod, IP[]>();
  const give = (w: (typeof wants)[number], ip: IP) => {
    const set = used.get(w.node.meta.name) ?? new Set<string>();
    set.add(ip.text);
    used.set(w.node.meta.name, set);
    got.set(w.p, [...(got.get(w.p) ?? []), ip]);
  };
  const byKey = [...wants].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const losers: typeof wants = [];
  for (const w of byKey) {
    const ip = prefixNth(w.cidr, w.home);
    if (used.get(w.node.meta.name)?.has(ip.text)) losers.push(w);
    else give(w, ip);
  }
  for (const w of losers) {
    const slots = podSlots(w.cidr);
    const set = used.get(w.node.meta.name) ?? new Set<string>();
    let ip: IP | undefined;
    const limit = slots < 1_000_000n ? slots : 1_000_000n;
    for (let i = 1n; i < limit && !ip; i++) {
      const c = prefixNth(w.cidr, 2n + ((w.home - 2n + i) % slots));
      if (!set.has(c.text)) ip = c;
    }
    if (!ip) {
      report.error(
        w.p.meta.origin,
        podRef(w.p),
        ['status', 'podIP'],
        `node ${w.node.meta.name}'s pod CIDR ${w.cidr.text} is full`,
      );
      continue;
    }
    give(w, ip);
  }
  return pods.map((p) => {
    if (!p.nodeName) return p;
    const node = byName.get(p.nodeName);
    if (!node) return p;
    if (p.hostNetwork) return p.podIPs.length ? p : { ...p, podIPs: [...node.internalIPs] };
    const extra = got.get(p);
    if (!extra) return p;
    // After any given address, in the order of the node's pod CIDRs.
    const at = (ip: IP) => node.podCIDRs.findIndex((c) => c.ip.family === ip.family);
    return { ...p, podIPs: [...p.podIPs, ...[...extra].sort((a, b) => at(a) - at(b))] };
  });
}

/** The pod addresses of a node's CIDR: from .2 (.0 is the network, .1 the bridge) to the last but broadcast. */
function podSlots(cidr: Prefix): bigint {
  const last = prefixSize(cidr) - (cidr.ip.family === 4 ? 2n : 1n);
  return last - 2n + 1n;
}
