/**
 * host-local IPAM (containernetworking/plugins plugins/ipam/host-local) on kpath's emulated state
 * instead of /var/lib/cni/networks: one allocation per range set, the gateway (network + 1 by
 * default) and the network and broadcast addresses never handed out, rangeStart .1 (the gateway is
 * skipped, so usually .2) to rangeEnd broadcast - 1, round robin from the last reserved address,
 * "no IP addresses available in range set" when the set is full, release by container ID and ifname.
 */
import {
  type IP,
  ipEquals,
  type Prefix,
  parseIP,
  prefixContains,
  prefixLast,
  prefixNth,
  prefixSize,
  tryParsePrefix,
} from '../../netmodel/addr.js';
import { CniCode, CniFailure } from './errors.js';

export interface IpamRange {
  readonly subnet: Prefix;
  readonly rangeStart: IP;
  readonly rangeEnd: IP;
  readonly gateway: IP;
}

/** The store of one network: address -> `containerID\r\nifname`, and the last reserved per range set. */
export interface IpamStore {
  allocations: Record<string, string>;
  lastReserved: Record<string, string>;
}

function offsetOf(p: Prefix, ip: IP): bigint {
  return ip.family === 4 && p.ip.family === 4
    ? BigInt(ip.n - p.ip.n)
    : (ip as { big: bigint }).big - (p.ip as { big: bigint }).big;
}

/** Range.Canonicalize: defaults and checks. */
export function canonicalRange(r: Record<string, unknown>, where: string): IpamRange {
  const subnet = typeof r.subnet === 'string' ? tryParsePrefix(r.subnet, { strict: true }) : undefined;
  if (!subnet)
    throw new CniFailure(
      CniCode.INVALID_NETWORK_CONFIG,
      `${where}: invalid subnet ${JSON.stringify(r.subnet)} (a CIDR with no host bits, e.g. 10.244.1.0/24)`,
    );
  const max = subnet.ip.family === 4 ? 32 : 128;
  if (subnet.bits >= max - 1)
    throw new CniFailure(CniCode.INVALID_NETWORK_CONFIG, `Network ${subnet.text} too small to allocate from`);
  const addr = (k: string, dflt: IP): IP => {
    const v = r[k];
    if (v === undefined) return dflt;
    const ip =
      typeof v === 'string'
        ? (() => {
            try {
              return parseIP(v);
            } catch {
              return undefined;
            }
          })()
        : undefined;
    if (!ip || !prefixContains(subnet, ip))
      throw new CniFailure(
        CniCode.INVALID_NETWORK_CONFIG,
        `${where}: ${k} ${JSON.stringify(v)} is not an address in ${subnet.text}`,
      );
    return ip;
  };
  const last = prefixLast(subnet);
  return {
    subnet,
    gateway: addr('gateway', prefixNth(subnet, 1n)),
    rangeStart: addr('rangeStart', prefixNth(subnet, 1n)),
    rangeEnd: addr('rangeEnd', subnet.ip.family === 4 ? prefixNth(subnet, prefixSize(subnet) - 2n) : last),
  };
}

/** Allocate one address from a range set for (containerID, ifname). */
export function allocate(
  store: IpamStore,
  set: readonly IpamRange[],
  setIndex: number,
  owner: string,
): { ip: IP; range: IpamRange } {
  for (const [ip, who] of Object.entries(store.allocations))
    if (who === owner && set.some((r) => prefixContains(r.subnet, parseIP(ip))))
      throw new CniFailure(
        CniCode.INTERNAL,
        `failed to allocate for range ${setIndex}: ${ip} has been allocated to ${owner.replace('\r\n', ', ')}, duplicate allocation is not allowed`,
      );
  const lastText = store.lastReserved[String(setIndex)];
  const last = lastText ? parseIP(lastText) : undefined;
  // The candidates in order: from last + 1 (or the first rangeStart) round the set once.
  const all: { ip: IP; range: IpamRange }[] = [];
  for (const r of set) {
    const a = offsetOf(r.subnet, r.rangeStart);
    const b = offsetOf(r.subnet, r.rangeEnd);
    for (let o = a; o <= b; o++) all.push({ ip: prefixNth(r.subnet, o), range: r });
  }
  let start = 0;
  if (last) {
    const i = all.findIndex((c) => ipEquals(c.ip, last));
    if (i >= 0) start = i + 1;
  }
  for (let k = 0; k < all.length; k++) {
    const c = all[(start + k) % all.length]!;
    if (ipEquals(c.ip, c.range.gateway) || store.allocations[c.ip.text]) continue;
    store.allocations[c.ip.text] = owner;
    store.lastReserved[String(setIndex)] = c.ip.text;
    return c;
  }
  throw new CniFailure(
    CniCode.INTERNAL,
    `failed to allocate for range ${setIndex}: no IP addresses available in range set: ${set.map((r) => `${r.rangeStart.text}-${r.rangeEnd.text}`).join(',')}`,
  );
}

/** Release every address of (containerID, ifname); returns them. */
export function release(store: IpamStore, owner: string): string[] {
  const out: string[] = [];
  for (const [ip, who] of Object.entries(store.allocations))
    if (who === owner) {
      delete store.allocations[ip];
      out.push(ip);
    }
  return out;
}
