/** kube-proxy-shaped nat tables, as restore text (for the index tests and the bench). */
import { createHash } from 'node:crypto';
import { intBelow, SeededRng } from '../../netmodel/rng.js';

/** A compact kube-proxy-shaped nat table with N services (one tcp port 80 each, `endpointsPer` endpoints). */
export function kubeNatRules(services: number, endpointsPer = 2): string {
  const lines = ['*nat', ':KUBE-SERVICES - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-POSTROUTING - [0:0]'];
  const body: string[] = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  for (let s = 0; s < services; s++) {
    const cip = `10.96.${(s >> 8) & 255}.${s & 255}`;
    const svc = `KUBE-SVC-${s}`;
    lines.push(`:${svc} - [0:0]`);
    body.push(
      `-A KUBE-SERVICES -m comment --comment "ns/svc${s}:http cluster IP" -m tcp -p tcp -d ${cip} --dport 80 -j ${svc}`,
    );
    body.push(
      `-A ${svc} -m comment --comment "ns/svc${s}:http cluster IP" -m tcp -p tcp -d ${cip} --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`,
    );
    for (let e = 0; e < endpointsPer; e++) {
      const sep = `KUBE-SEP-${s}-${e}`;
      const ep = `10.244.${(s >> 8) & 255}.${(s * endpointsPer + e) & 255}`;
      lines.push(`:${sep} - [0:0]`);
      const prob =
        e < endpointsPer - 1
          ? ` -m statistic --mode random --probability ${(1 / (endpointsPer - e)).toFixed(10)}`
          : '';
      body.push(`-A ${svc} -m comment --comment "ns/svc${s}:http -> ${ep}:8080"${prob} -j ${sep}`);
      body.push(`-A ${sep} -m comment --comment ns/svc${s}:http -s ${ep} -j KUBE-MARK-MASQ`);
      body.push(
        `-A ${sep} -m comment --comment ns/svc${s}:http -m tcp -p tcp -j DNAT --to-destination ${ep}:8080`,
      );
    }
  }
  body.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  lines.push(':KUBE-NODEPORTS - [0:0]');
  return [...lines, ...body, 'COMMIT', ''].join('\n');
}

export interface KubeServicePort {
  readonly ip: string;
  readonly port: number;
  readonly proto: 'tcp' | 'udp';
  readonly endpoints: readonly string[];
}

export interface KubeProxyNat {
  /** iptables-restore text for the nat table. */
  readonly text: string;
  readonly services: readonly KubeServicePort[];
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** kube-proxy's chain name suffix: base32(sha256(s)) cut to 16 characters. */
function chainHash(s: string): string {
  const bytes = createHash('sha256').update(s).digest();
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= 0xff;
  }
  return out;
}

/**
 * A nat table as kube-proxy (iptables mode, 1.28+) writes it for `services` ClusterIP services with one
 * port each (90% tcp, 10% udp) and minEndpoints..maxEndpoints endpoints each: KUBE-SERVICES with one
 * rule per service port (then the nodeports rule), KUBE-SVC-<hash> with the off-cluster masquerade
 * rule and one statistic rule per endpoint, KUBE-SEP-<hash> with the hairpin KUBE-MARK-MASQ and the
 * DNAT. Deterministic for a seed.
 */
export function kubeProxyNat(opts: {
  services: number;
  minEndpoints?: number;
  maxEndpoints?: number;
  seed?: number;
  clusterCidr?: string;
}): KubeProxyNat {
  const rng = new SeededRng(opts.seed ?? 1);
  const lo = opts.minEndpoints ?? 2;
  const hi = opts.maxEndpoints ?? 5;
  const cidr = opts.clusterCidr ?? '10.244.0.0/16';
  const chains = [
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-NODEPORTS - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
  ];
  const rules = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  const svcRules: string[] = [];
  const services: KubeServicePort[] = [];
  const usedIps = new Set<number>();
  let podSeq = 2;
  for (let s = 0; s < opts.services; s++) {
    let ipn: number;
    do
      ipn = 0x0a600000 + 1 + intBelow(rng, 0x100000 - 2); // 10.96.0.0/12
    while (usedIps.has(ipn));
    usedIps.add(ipn);
    const ip = `${ipn >>> 24}.${(ipn >>> 16) & 255}.${(ipn >>> 8) & 255}.${ipn & 255}`;
    const udp = intBelow(rng, 10) === 0;
    const proto = udp ? 'udp' : 'tcp';
    const port = udp ? 53 : [80, 443, 8080, 9090][intBelow(rng, 4)]!;
    const targetPort = udp ? 5353 : 8080;
    const name = `ns${s % 50}/svc-${s}:${udp ? 'dns' : 'http'}`;
    const svcChain = `KUBE-SVC-${chainHash(name + proto)}`;
    const n = lo + intBelow(rng, hi - lo + 1);
    const endpoints: string[] = [];
    chains.push(`:${svcChain} - [0:0]`);
    svcRules.push(
      `-A KUBE-SERVICES -d ${ip}/32 -p ${proto} -m comment --comment "${name} cluster IP" -m ${proto} --dport ${port} -j ${svcChain}`,
    );
    rules.push(
      `-A ${svcChain} ! -s ${cidr} -d ${ip}/32 -p ${proto} -m comment --comment "${name} cluster IP" -m ${proto} --dport ${port} -j KUBE-MARK-MASQ`,
    );
    const sepRules: string[] = [];
    for (let e = 0; e < n; e++) {
      const pod = podSeq++;
      const ep = `10.244.${(pod >>> 8) & 255}.${pod & 255}`;
      endpoints.push(ep);
      const sep = `KUBE-SEP-${chainHash(`${name}${proto}${ep}:${targetPort}`)}`;
      chains.push(`:${sep} - [0:0]`);
      const prob = e < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - e)).toFixed(10)}` : '';
      rules.push(`-A ${svcChain} -m comment --comment "${name} -> ${ep}:${targetPort}"${prob} -j ${sep}`);
      sepRules.push(`-A ${sep} -s ${ep}/32 -m comment --comment "${name}" -j KUBE-MARK-MASQ`);
      sepRules.push(
        `-A ${sep} -p ${proto} -m comment --comment "${name}" -m ${proto} -j DNAT --to-destination ${ep}:${targetPort}`,
      );
    }
    rules.push(...sepRules);
    services.push({ ip, port, proto, endpoints });
  }
  svcRules.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  const text = ['*nat', ...chains, ...svcRules, ...rules, 'COMMIT', ''].join('\n');
  return { text, services };
}
