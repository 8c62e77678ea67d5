/**
 * Answering a question from the zone, following CoreDNS's kubernetes plugin (handler.go, kubernetes.go,
 * parse.go, reverse.go and plugin/backend_lookup.go) decision for decision:
 *
 *   question -> served zone? (no: outside)
 *     AXFR/IXFR -> refused
 *     A/AAAA    -> services(name) -> address records, ExternalName CNAMEs chased (in zone: here; out of
 *                  zone: left to the caller as `chase`)
 *     SRV       -> services(name) minus CNAMEs -> SRV (prio 0, weight floor(100/N)) + A/AAAA additional
 *     TXT       -> dns-version.<zone> only; otherwise NODATA if the name exists
 *     CNAME     -> ExternalName target
 *     PTR       -> ClusterIP index, then ready endpoint addresses
 *     SOA, NS   -> at a zone apex only (SOA below the apex is NODATA, NS falls to the next rule)
 *     other     -> a hidden A lookup decides NXDOMAIN vs NODATA
 *   negative answers carry the zone's SOA in AUTHORITY.
 *
 * Deliberate deviation: TXT on a name that exists without records (the apex, `svc.<zone>`,
 * `<ns>.svc.<zone>`) is NODATA here; CoreDNS says NXDOMAIN there while saying NODATA for A on the same
 * name, which would make RFC 8020 resolvers forget the whole zone.
 */
import { type IP, tryParseIP } from '../addr.js';
import type { ResourceRecord } from './message.js';
import { isSubdomain, lowerName } from './message.js';
import { ZONE_DEFAULTS } from './view.js';
import { Rcode, RRClass, RRType } from './wire-constants.js';
import type { Zone } from './zone.js';
import { addressFromReverse, matchZone, reverseName } from './zone.js';

export type LookupResult =
  | {
      readonly kind: 'answer';
      readonly rcode: typeof Rcode.NOERROR | typeof Rcode.NXDOMAIN;
      readonly answers: readonly ResourceRecord[];
      readonly authority: readonly ResourceRecord[];
      readonly additional: readonly ResourceRecord[];
      /** An ExternalName pointed out of the zone: the caller may look `target` up upstream and append. */
      readonly chase?: { readonly target: string; readonly type: number };
      /** NXDOMAIN in a reverse zone: kubeadm's `fallthrough in-addr.arpa ip6.arpa` hands it on. */
      readonly fallthrough?: boolean;
    }
  | { readonly kind: 'refused' }
  | { readonly kind: 'outside' };

/** One backend item, as CoreDNS's msg.Service: an address or a CNAME target, a port, an SRV target. */
interface Item {
  readonly host: string;
  readonly ip: IP | undefined;
  readonly port: number;
  readonly domain: string;
}

type Items = readonly Item[] | null; // null = NXDOMAIN

function strip(s: string): string {
  return s.startsWith('_') ? s.slice(1) : s;
}

function trimZone(name: string, z: string): string {
  return name === z ? '' : name.slice(0, name.length - z.length - 1);
}

/** kubernetes.go Records: parseRequest + namespace exposure + findPods/findServices. */
function records(zone: Zone, name: string, z: string): Items {
  const base = trimZone(name, z);
  if (base === '' || base === 'svc' || base === 'pod') return [];
  const segs = base.split('.');
  let last = segs.length - 1;
  const podOrSvc = segs[last];
  if (podOrSvc !== 'svc' && podOrSvc !== 'pod') return null;
  if (z !== zone.domain) return null; // IsReverse
  last--;
  const ns = segs[last]!;
  last--;
  const service = last >= 0 ? segs[last]! : '';
  last--;
  let endpoint = '';
  let port = '';
  let protocol = '';
  if (last === 0) endpoint = segs[0]!;
  else if (last === 1) {
    protocol = strip(segs[1]!);
    port = strip(segs[0]!);
  } else if (last > 1) return null;
  if (!zone.namespaces.has(ns)) return null;
  if (podOrSvc === 'pod') return findPods(zone, ns, service, z);
  return findServices(zone, ns, service, endpoint, port, protocol, z);
}

function findPods(zone: Zone, ns: string, podname: string, z: string): Items {
  if (zone.podsMode === 'disabled') return null;
  if (podname === '') return [];
  const dashes = podname.split('-').length - 1;
  const text =
    dashes === 3 && !podname.includes('--') ? podname.replaceAll('-', '.') : podname.replaceAll('-', ':');
  const ip = tryParseIP(text);
  if (!ip) return null;
  if (zone.podsMode === 'verified' && !zone.podIPs.get(ns)?.has(ip.text)) return null;
  return [{ host: ip.text, ip, port: 0, domain: `${podname}.${ns}.pod.${z}` }];
}

function matchPP(rport: string, pname: string, rproto: string, pproto: string): boolean {
  return (rport === '' || rport === pname) && (rproto === '' || rproto === pproto);
}

function findServices(
  zone: Zone,
  ns: string,
  service: string,
  endpoint: string,
  port: string,
  protocol: string,
  z: string,
): Items {
  if (service === '') return [];
  const svc = zone.services.get(`${service}.${ns}`);
  if (!svc) return null;
  if (svc.type === 'ExternalName') {
    if (endpoint !== '' || !svc.externalName || tryParseIP(svc.externalName)) return null;
    const host = svc.externalName.endsWith('.') ? svc.externalName.slice(0, -1) : svc.externalName;
    return [{ host, ip: undefined, port: 0, domain: `${service}.${ns}.svc.${z}` }];
  }
  const out: Item[] = [];
  if (svc.headless || endpoint !== '') {
    for (const ep of svc.endpoints) {
      if (endpoint !== '' && ep.label !== endpoint) continue;
      for (const p of ep.ports) {
        if (!matchPP(port, p.name, protocol, p.protocol)) continue;
        out.push({
          host: ep.ip.text,
          ip: ep.ip,
          port: p.port,
          domain: `${ep.label}.${service}.${ns}.svc.${z}`,
        });
      }
    }
    return out.length > 0 ? out : null;
  }
  let found = false;
  for (const p of svc.ports) {
    if (!matchPP(port, p.name, protocol, p.protocol)) continue;
    found = true;
    for (const ip of svc.clusterIPs) {
      out.push({ host: ip.text, ip, port: p.port, domain: `${service}.${ns}.svc.${z}` });
    }
  }
  return found ? out : null;
}

/** kubernetes.go Services for the non-TXT/NS types. */
function services(zone: Zone, name: string, qtype: number, z: string): Items {
  if (name === `ns.dns.${z}`) {
    const out: Item[] = [];
    for (const ip of zone.nameservers) {
      if ((ip.family === 4 && qtype === RRType.A) || (ip.family === 6 && qtype === RRType.AAAA)) {
        out.push({ host: ip.text, ip, port: 0, domain: name });
      }
    }
    return out;
  }
  const s = records(zone, name, z);
  if (s === null || qtype !== RRType.SRV) return s;
  return s.filter((i) => i.ip !== undefined);
}

interface Ctx {
  readonly zone: Zone;
  readonly z: string;
  chase?: { target: string; type: number };
}

function addressRR(ctx: Ctx, owner: string, ip: IP): ResourceRecord {
  const mapped = ctx.zone.mapAddress(ip.text);
  return {
    name: owner,
    type: ip.family === 4 ? RRType.A : RRType.AAAA,
    class: RRClass.IN,
    ttl: ctx.zone.ttl,
    data: { kind: 'address', ip: mapped },
  };
}

/** backend_lookup.go A/AAAA, with CNAME chasing. `owner` keeps the asker's case. */
function addresses(ctx: Ctx, owner: string, qtype: number, prev: ResourceRecord[]): ResourceRecord[] | null {
  const name = lowerName(owner);
  const items = services(ctx.zone, name, qtype, ctx.z);
  if (items === null) return null;
  const family = qtype === RRType.A ? 4 : 6;
  const out: ResourceRecord[] = [];
  const dup = new Set<string>();
  for (const it of items) {
    if (it.ip) {
      if (it.ip.family === family && !dup.has(it.host)) {
        dup.add(it.host);
        out.push(addressRR(ctx, owner, it.ip));
      }
      continue;
    }
    if (lowerName(it.host) === name || prev.length > 7) continue;
    const cname: ResourceRecord = {
      name: owner,
      type: RRType.CNAME,
      class: RRClass.IN,
      ttl: ctx.zone.ttl,
      data: { kind: 'name', target: it.host },
    };
    if (
      prev.some(
        (p) =>
          lowerName(p.name) === name &&
          p.data.kind === 'name' &&
          lowerName(p.data.target) === lowerName(it.host),
      )
    ) {
      continue;
    }
    if (isSubdomain(it.host, ctx.z)) {
      const next = addresses(ctx, it.host, qtype, [...prev, cname]);
      if (next !== null && next.length > 0) out.push(cname, ...next);
      continue;
    }
    out.push(cname);
    ctx.chase = { target: it.host, type: qtype };
  }
  return out;
}

function srv(ctx: Ctx, owner: string): { answers: ResourceRecord[]; extra: ResourceRecord[] } | null {
  const items = services(ctx.zone, lowerName(owner), RRType.SRV, ctx.z);
  if (items === null) return null;
  const answers: ResourceRecord[] = [];
  const extra: ResourceRecord[] = [];
  const weight = Math.max(1, Math.floor(100 / Math.max(1, items.length)));
  const seen = new Set<string>();
  for (const it of items) {
    if (it.port === -1 || !it.ip) continue;
    const k = `${it.domain} ${it.port}`;
    if (!seen.has(k)) {
      seen.add(k);
      answers.push({
        name: owner,
        type: RRType.SRV,
        class: RRClass.IN,
        ttl: ctx.zone.ttl,
        data: { kind: 'srv', priority: 0, weight, port: it.port, target: it.domain },
      });
    }
    const a = `${it.domain} @${it.host}`;
    if (!seen.has(a)) {
      seen.add(a);
      extra.push(addressRR(ctx, it.domain, it.ip));
    }
  }
  return { answers, extra };
}

/** The zone's SOA, owned by the zone as the asker spelled it. */
export function soaRecord(zone: Zone, zoneOwner: string): ResourceRecord {
  return {
    name: zoneOwner,
    type: RRType.SOA,
    class: RRClass.IN,
    ttl: zone.soaTtl,
    data: {
      kind: 'soa',
      mname: `ns.dns.${zoneOwner}`,
      rname: `hostmaster.${zoneOwner}`,
      serial: zone.serial,
      refresh: ZONE_DEFAULTS.soaRefresh,
      retry: ZONE_DEFAULTS.soaRetry,
      expire: ZONE_DEFAULTS.soaExpire,
      minimum: zone.ttl,
    },
  };
}

/**
 * Answer one question (class IN assumed; the caller refuses others). `qname` is presentation text
 * without the trailing dot, in any case; owner names in the answer keep that spelling.
 */
export function lookup(zone: Zone, qname: string, qtype: number): LookupResult {
  const name = lowerName(qname);
  const z = matchZone(zone, name);
  if (z === undefined) return { kind: 'outside' };
  if (qtype === RRType.AXFR || qtype === RRType.IXFR) return { kind: 'refused' };
  const zoneOwner = qname.slice(qname.length - z.length);
  const ctx: Ctx = { zone, z };
  let answers: ResourceRecord[] | null = [];
  let extra: ResourceRecord[] = [];

  switch (qtype) {
    case RRType.A:
    case RRType.AAAA:
      answers = addresses(ctx, qname, qtype, []);
      break;
    case RRType.SRV: {
      const r = srv(ctx, qname);
      answers = r ? r.answers : null;
      extra = r ? r.extra : [];
      break;
    }
    case RRType.TXT:
      if (trimZone(name, z) === 'dns-version') {
        answers = [
          {
            name: qname,
            type: RRType.TXT,
            class: RRClass.IN,
            ttl: ZONE_DEFAULTS.versionTtl,
            data: { kind: 'txt', texts: [ZONE_DEFAULTS.schemaVersion] },
          },
        ];
      } else {
        answers = records(zone, name, z) === null ? null : [];
      }
      break;
    case RRType.CNAME: {
      const items = services(zone, name, qtype, z);
      if (items === null) answers = null;
      else if (items[0] && !items[0].ip) {
        answers = [
          {
            name: qname,
            type: RRType.CNAME,
            class: RRClass.IN,
            ttl: zone.ttl,
            data: { kind: 'name', target: items[0].host },
          },
        ];
      }
      break;
    }
    case RRType.PTR: {
      const ip = addressFromReverse(name);
      if (!ip) {
        answers = records(zone, name, z) === null ? null : [];
        break;
      }
      const targets = zone.ptr.get(reverseName(ip));
      answers = targets
        ? targets.map((t) => ({
            name: qname,
            type: RRType.PTR,
            class: RRClass.IN,
            ttl: zone.ttl,
            data: { kind: 'name' as const, target: t },
          }))
        : null;
      break;
    }
    case RRType.SOA:
      if (name === z) answers = [soaRecord(zone, zoneOwner)];
      break;
    case RRType.NS:
      if (name === z) {
        const ns = `ns.dns.${zoneOwner}`;
        answers = [
          {
            name: qname,
            type: RRType.NS,
            class: RRClass.IN,
            ttl: zone.ttl,
            data: { kind: 'name', target: ns },
          },
        ];
        extra = zone.nameservers.map((ip) => addressRR(ctx, ns, ip));
        break;
      }
      answers = addresses(ctx, qname, RRType.A, []) === null ? null : [];
      break;
    default:
      // Hidden A lookup: does the name exist?
      answers = addresses(ctx, qname, RRType.A, []) === null ? null : [];
      ctx.chase = undefined;
  }

  if (answers === null || answers.length === 0) {
    const nx = answers === null;
    return {
      kind: 'answer',
      rcode: nx ? Rcode.NXDOMAIN : Rcode.NOERROR,
      answers: [],
      authority: [soaRecord(zone, zoneOwner)],
      additional: [],
      ...(nx && z !== zone.domain ? { fallthrough: true } : {}),
    };
  }
  return {
    kind: 'answer',
    rcode: Rcode.NOERROR,
    answers,
    authority: [],
    additional: extra,
    ...(ctx.chase ? { chase: ctx.chase } : {}),
  };
}
