/**
 * Routes and a longest-prefix-match table (the kernel's FIB tables `local` and `main`). Routes are
 * bucketed by prefix length, so a lookup is at most 33 (IPv4) or 129 (IPv6) map probes.
 */
import type { IP, Prefix } from '../addr.js';
import { prefixOf } from '../addr.js';
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
export type RouteProto = 'kernel' | 'boot' | 'static' | 'dhcp';

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
}

function netKey(p: Prefix): string {
  return p.ip.family === 4 ? p.ip.n.toString(16) : p.ip.big.toString(16);
}

/** One FIB table. */
export class RouteTable {
  private readonly buckets = new Map<number, Map<string, Route[]>>();
  private lengths: number[] = [];

  add(r: Route): void {
    const bits = r.dst.bits + (r.dst.ip.family === 6 ? 1000 : 0);
    let b = this.buckets.get(bits);
    if (!b) {
      b = new Map();
      this.buckets.set(bits, b);
      this.lengths = [...this.buckets.keys()].sort((x, y) => y - x);
    }
    const k = netKey(r.dst);
    const list = b.get(k) ?? [];
    list.push(r);
    list.sort((x, y) => x.metric - y.metric);
    b.set(k, list);
  }

  remove(pred: (r: Route) => boolean): number {
    let n = 0;
    for (const b of this.buckets.values()) {
      for (const [k, list] of b) {
        const keep = list.filter((r) => !pred(r));
        n += list.length - keep.length;
        if (keep.length) b.set(k, keep);
        else b.delete(k);
      }
    }
    return n;
  }

  /** Longest prefix match; among equal prefixes the lowest metric whose route is usable. */
  lookup(ip: IP, usable: (r: Route) => boolean = () => true): Route | undefined {
    const off = ip.family === 6 ? 1000 : 0;
    for (const bits of this.lengths) {
      const len = bits - off;
      if (len < 0 || len > (ip.family === 4 ? 32 : 128)) continue;
      const list = this.buckets.get(bits)?.get(netKey(prefixOf(ip, len)));
      const r = list?.find(usable);
      if (r) return r;
    }
    return undefined;
  }

  /** All routes in the order `ip route show` lists them: by address, then longer prefixes first. */
  routes(): Route[] {
    const all: Route[] = [];
    for (const b of this.buckets.values()) for (const list of b.values()) all.push(...list);
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
