/**
 * Routes and a longest-prefix-match table (the kernel's FIB tables `local` and `main`). Routes are
 * bucketed by prefix length, so a lookup is at most 33 (IPv4) or 129 (IPv6) map probes.
 */
import type { IP, Prefix } from '../addr.js';
import type { Scope } from './interfaces.js';

/** RTN_* route types that kpath models. */
export type RouteType =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'throw';

/** Who installed the route: `proto kernel` for connected/local routes; `boot` (not printed) by default. */
export type RouteProto = 'kernel' | 'boot' | 'static' | 'dhcp' | 'bird';

export interface Route {
  readonly type: RouteType;
  readonly dst: Prefix;
  readonly dev?: string;
  readonly via?: IP;
  /** Preferred source hint (`src`). */
  readonly src?: IP;
  readonly metric: number;
  readonly scope: Scope;
  readonly proto: RouteProto;
  /** RTNH_F_ONLINK: the gateway is taken as on-link (`onlink`). */
  readonly onlink?: boolean;
}

/** IPv4 netmask of a prefix length, as an unsigned 32-bit number. */
function mask4(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

const V6_ALL = (1n << 128n) - 1n;
/** IPv6 netmasks by prefix length, computed once (a lookup masks with one bigint `&`). */
const MASK6: readonly bigint[] = Array.from({ length: 129 }, (_, bits) =>
  bits === 0 ? 0n : (V6_ALL << BigInt(128 - bits)) & V6_ALL,
);

/**
 * One FIB table.
 *
 * Layout: per family, prefix length -> network address -> the routes of that prefix, lowest metric
 * first. IPv4 networks are keyed by their unsigned 32-bit number and IPv6 networks by their bigint
 * (Map compares both by value), so a lookup masks the address once per prefix length present, longest
 * first, and probes two maps: no Prefix, IP or string is built.
 */
export class RouteTable {
  private readonly v4 = new Map<number, Map<number, Route[]>>();
  private readonly v6 = new Map<number, Map<bigint, Route[]>>();
  /** The prefix lengths present, longest first. */
  private lengths4: number[] = [];
  private lengths6: number[] = [];

  add(r: Route): void {
    const ip = r.dst.ip;
    const bits = r.dst.bits;
    const list = ip.family === 4 ? this.list4(bits, ip.n) : this.list6(bits, ip.big);
    list.push(r);
    list.sort((x, y) => x.metric - y.metric);
  }

  private list4(bits: number, net: number): Route[] {
    let b = this.v4.get(bits);
    if (!b) {
      b = new Map();
      this.v4.set(bits, b);
      this.lengths4 = [...this.v4.keys()].sort((x, y) => y - x);
    }
    let list = b.get(net);
    if (!list) {
      list = [];
      b.set(net, list);
    }
    return list;
  }

  private list6(bits: number, net: bigint): Route[] {
    let b = this.v6.get(bits);
    if (!b) {
      b = new Map();
      this.v6.set(bits, b);
      this.lengths6 = [...this.v6.keys()].sort((x, y) => y - x);
    }
    let list = b.get(net);
    if (!list) {
      list = [];
      b.set(net, list);
    }
    return list;
  }

  remove(pred: (r: Route) => boolean): number {
    let n = 0;
    for (const family of [this.v4, this.v6] as Map<number, Map<number | bigint, Route[]>>[]) {
      for (const b of family.values()) {
        for (const [k, list] of b) {
          const keep = list.filter((r) => !pred(r));
          n += list.length - keep.length;
          if (keep.length) b.set(k, keep);
          else b.delete(k);
        }
      }
    }
    return n;
  }

  /** Longest prefix match; among equal prefixes the lowest metric whose route is usable. */
  lookup(ip: IP, usable: (r: Route) => boolean = () => true): Route | undefined {
    if (ip.family === 4) {
      const n = ip.n;
      for (const bits of this.lengths4) {
        const list = this.v4.get(bits)!.get((n & mask4(bits)) >>> 0);
        if (list) for (const r of list) if (usable(r)) return r;
      }
      return undefined;
    }
    const big = ip.big;
    for (const bits of this.lengths6) {
      const list = this.v6.get(bits)!.get(big & MASK6[bits]!);
      if (list) for (const r of list) if (usable(r)) return r;
    }
    return undefined;
  }

  /** All routes in the order `ip route show` lists them: by address, then longer prefixes first. */
  routes(): Route[] {
    const all: Route[] = [];
    for (const b of this.v4.values()) for (const list of b.values()) all.push(...list);
    for (const b of this.v6.values()) for (const list of b.values()) all.push(...list);
    return all.sort(compareRoutes);
  }
}

export function compareRoutes(a: Route, b: Route): number {
  if (a.dst.ip.family !== b.dst.ip.family) return a.dst.ip.family - b.dst.ip.family;
  const x = a.dst.ip.family === 4 ? BigInt(a.dst.ip.n) : a.dst.ip.big;
  const y = b.dst.ip.family === 4 ? BigInt((b.dst.ip as { n: number }).n) : (b.dst.ip as { big: bigint }).big;
  if (x !== y) return x < y ? -1 : 1;
  if (a.dst.bits !== b.dst.bits) return b.dst.bits - a.dst.bits;
  return a.metric - b.metric;
}
