/**
 * The zone: a DnsClusterView indexed once for lookups. Immutable; a new snapshot builds a new zone.
 * Bad values in the view (an unparseable address, a bad domain) are skipped and listed in `problems`
 * rather than thrown, so one broken object never takes DNS down.
 */
import { type IP, tryParseIP } from '../addr.js';
import { ErrorCodes, KpathError } from '../errors.js';
import { lowerName } from './message.js';
import type { DnsClusterView, DnsPort, DnsServiceType, PodsMode, ZoneOptions } from './view.js';
import { ZONE_DEFAULTS } from './view.js';

/** One ready endpoint address with its slice's ports (a portless slice has the -1 sentinel port). */
export interface ZoneEndpoint {
  readonly ip: IP;
  /** CoreDNS's endpointHostname: hostname, pod name (endpointPodNames), or the dashed address. */
  readonly label: string;
  readonly ports: readonly ZonePort[];
}

export interface ZonePort {
  /** lower-case; `''` for unnamed */
  readonly name: string;
  /** lower-case `tcp`/`udp`/`sctp`; `''` for the sentinel */
  readonly protocol: string;
  /** -1 is CoreDNS's sentinel for "no ports": no SRV record. */
  readonly port: number;
}

export interface ZoneService {
  readonly namespace: string;
  readonly name: string;
  readonly type: DnsServiceType;
  readonly headless: boolean;
  readonly clusterIPs: readonly IP[];
  readonly externalName?: string;
  readonly ports: readonly ZonePort[];
  readonly endpoints: readonly ZoneEndpoint[];
}

export interface Zone {
  /** lower-case cluster domain without trailing dot */
  readonly domain: string;
  /** every zone served, longest first: the cluster domain, and in-addr.arpa / ip6.arpa when enabled */
  readonly zones: readonly string[];
  readonly ttl: number;
  readonly soaTtl: number;
  readonly serial: number;
  readonly podsMode: PodsMode;
  readonly namespaces: ReadonlySet<string>;
  /** key `name.namespace`, lower-case */
  readonly services: ReadonlyMap<string, ZoneService>;
  /** reverse owner name (lower-case, no trailing dot) -> PTR targets, ClusterIPs first */
  readonly ptr: ReadonlyMap<string, readonly string[]>;
  /** namespace -> pod IP texts (canonical), for podsMode verified */
  readonly podIPs: ReadonlyMap<string, ReadonlySet<string>>;
  readonly nameservers: readonly IP[];
  readonly mapAddress: (ip: string) => string;
  readonly problems: readonly string[];
}

/** `10.0.0.1` -> `1.0.0.10.in-addr.arpa`; IPv6 -> 32 nibbles under ip6.arpa. */
export function reverseName(ip: IP): string {
  if (ip.family === 4) {
    const n = ip.n;
    return `${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}.in-addr.arpa`;
  }
  const hex = ip.big.toString(16).padStart(32, '0');
  let s = '';
  for (let i = 31; i >= 0; i--) s += `${hex[i]}.`;
  return `${s}ip6.arpa`;
}

/** The address a reverse name stands for, or undefined (partial or malformed names). */
export function addressFromReverse(name: string): IP | undefined {
  const n = lowerName(name);
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4) return undefined;
    return tryParseIP(parts.reverse().join('.'));
  }
  if (n.endsWith('.ip6.arpa')) {
    const parts = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (parts.length !== 32 || parts.some((p) => !/^[0-9a-f]$/.test(p))) return undefined;
    const hex = parts.reverse().join('');
    return tryParseIP(hex.replace(/(.{4})(?!$)/g, '$1:'));
  }
  return undefined;
}

/** CoreDNS's dashed form of an endpoint address: `10-0-0-1`, `2001-db8--1`, `fd00--0` (trailing `-` gets `0`). */
export function dashedAddress(ip: IP): string {
  const d = ip.text.replace(/[.:]/g, '-');
  return d.endsWith('-') ? `${d}0` : d;
}

function normDomain(domain: string): string {
  const d = lowerName(domain.endsWith('.') ? domain.slice(0, -1) : domain);
  if (d === '' || !/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(d) || d.split('.').some((l) => l.length > 63)) {
    throw new KpathError(
      ErrorCodes.INVALID,
      `cluster domain "${domain}" is not a valid DNS name (e.g. cluster.local)`,
    );
  }
  return d;
}

function zonePort(p: DnsPort): ZonePort {
  return { name: p.name.toLowerCase(), protocol: p.protocol.toLowerCase(), port: p.port };
}

const SENTINEL: readonly ZonePort[] = [{ name: '', protocol: '', port: -1 }];

/** Build the zone. Throws KpathError INVALID only for a bad domain or option; bad objects go to `problems`. */
export function buildZone(view: DnsClusterView, options: ZoneOptions = {}): Zone {
  const ttl = options.ttl ?? ZONE_DEFAULTS.ttl;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 3600) {
    throw new KpathError(ErrorCodes.INVALID, `dns ttl must be an integer from 0 to 3600 seconds, got ${ttl}`);
  }
  const domain = normDomain(view.domain);
  const problems: string[] = [];
  const reverse = options.reverseZones ?? ZONE_DEFAULTS.reverseZones;
  const endpointPodNames = options.endpointPodNames ?? ZONE_DEFAULTS.endpointPodNames;
  const mapAddress = options.mapAddress ?? ((ip: string) => ip);

  const namespaces = new Set<string>();
  if (view.namespaces) for (const n of view.namespaces) namespaces.add(n.toLowerCase());
  else {
    namespaces.add('default');
    namespaces.add('kube-system');
    for (const s of view.services) namespaces.add(s.namespace.toLowerCase());
    for (const p of view.pods ?? []) namespaces.add(p.namespace.toLowerCase());
  }

  const ip = (text: string, where: string): IP | undefined => {
    const a = tryParseIP(text);
    if (!a) problems.push(`${where}: "${text}" is not an IP address; skipped`);
    return a;
  };

  const services = new Map<string, ZoneService>();
  const ptrCluster = new Map<string, string[]>();
  const ptrEndpoint = new Map<string, string[]>();
  const addPtr = (m: Map<string, string[]>, a: IP, target: string): void => {
    const names = [reverseName(a)];
    const mapped = tryParseIP(mapAddress(a.text));
    if (mapped && mapped.text !== a.text) names.push(reverseName(mapped));
    for (const n of names) {
      const list = m.get(n);
      if (!list) m.set(n, [target]);
      else if (!list.includes(target)) list.push(target);
    }
  };

  for (const s of view.services) {
    const ns = s.namespace.toLowerCase();
    const name = s.name.toLowerCase();
    const where = `service ${ns}/${name}`;
    const fq = `${name}.${ns}.svc.${domain}`;
    const clusterIPs: IP[] = [];
    if (!s.headless && s.type !== 'ExternalName') {
      for (const t of s.clusterIPs) {
        const a = ip(t, where);
        if (a) {
          clusterIPs.push(a);
          if (!ptrCluster.has(reverseName(a))) addPtr(ptrCluster, a, fq);
        }
      }
    }
    const endpoints: ZoneEndpoint[] = [];
    if (s.type !== 'ExternalName') {
      for (const slice of s.endpointSlices) {
        const ports = slice.ports.length === 0 ? SENTINEL : slice.ports.map(zonePort);
        for (const ep of slice.endpoints) {
          if (ep.ready === false && !s.publishNotReadyAddresses) continue;
          for (const t of ep.addresses) {
            const a = ip(t, where);
            if (!a) continue;
            const label = (
              ep.hostname ||
              (endpointPodNames && ep.targetRefName && ep.targetRefName.length < 64
                ? ep.targetRefName
                : '') ||
              dashedAddress(a)
            ).toLowerCase();
            endpoints.push({ ip: a, label, ports });
            addPtr(ptrEndpoint, a, `${label}.${fq}`);
          }
        }
      }
    }
    services.set(`${name}.${ns}`, {
      namespace: ns,
      name,
      type: s.type,
      headless: s.headless,
      clusterIPs,
      ...(s.externalName !== undefined ? { externalName: s.externalName } : {}),
      ports: s.ports.map(zonePort),
      endpoints,
    });
  }

  // ClusterIP index first: the first service holding the address wins (CoreDNS serviceRecordForIP).
  const ptr = new Map<string, readonly string[]>();
  if (reverse) {
    for (const [k, v] of ptrEndpoint) ptr.set(k, v);
    for (const [k, v] of ptrCluster) ptr.set(k, v.slice(0, 1));
  }

  const podIPs = new Map<string, Set<string>>();
  for (const p of view.pods ?? []) {
    const ns = p.namespace.toLowerCase();
    const set = podIPs.get(ns) ?? new Set<string>();
    podIPs.set(ns, set);
    for (const t of p.ips) {
      const a = ip(t, `pod ${ns}/${p.name}`);
      if (a) set.add(a.text);
    }
  }

  const nameservers: IP[] = [];
  for (const t of view.nameservers ?? []) {
    const a = ip(t, 'nameservers');
    if (a) nameservers.push(a);
  }

  const zones = [domain];
  if (reverse) zones.push('in-addr.arpa', 'ip6.arpa');
  zones.sort((a, b) => b.length - a.length);
  return {
    domain,
    zones,
    ttl,
    soaTtl: Math.min(ttl, ZONE_DEFAULTS.soaTtlCap),
    serial: (view.serial ?? ZONE_DEFAULTS.serial) >>> 0,
    podsMode: options.podsMode ?? ZONE_DEFAULTS.podsMode,
    namespaces,
    services,
    ptr,
    podIPs,
    nameservers,
    mapAddress,
    problems,
  };
}

/** The longest served zone `name` falls in, or undefined. `name` lower-case, no trailing dot. */
export function matchZone(zone: Zone, name: string): string | undefined {
  for (const z of zone.zones) {
    if (name === z || name.endsWith(`.${z}`)) return z;
  }
  return undefined;
}
