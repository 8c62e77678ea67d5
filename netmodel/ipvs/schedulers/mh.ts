/**
 * mh, Maglev hashing (net/netfilter/ipvs/ip_vs_mh.c, Linux >= 4.18).
 *
 * - Table size M = primes[CONFIG_IP_VS_MH_TAB_INDEX - 8] with the default index 12: M = 4093.
 *   IP_VS_MH_TAB_BITS = index / 2 = 6 bounds the turns a weight gives.
 * - Keys are constants set at service init, not random: hash1 = {2654435761, 2654435761},
 *   hash2 = {2654446892, 2654446892} (hsiphash_key_t words), so no seed is needed.
 * - hashkey(addr, port, key, offset) = hsiphash(&v, 4, key) with v = (u32)(offset + port + addr),
 *   addresses in host order (IPv6 XOR-folded), the u32 stored little-endian.
 * - Per dest (list order): offset = hashkey(dest addr, dest port, hash1, 0) % M, skip =
 *   hashkey(..., hash2, 0) % (M - 1) + 1, turns = (last_weight / gcd) >> rshift, or 1 if that is 0
 *   and last_weight != 0; gcd over last_weight > 0; rshift = max(0, fls(max last_weight / gcd) - 6).
 * - Populate: round-robin over dests with turns >= 1, each claiming `turns` slots in a row, each slot
 *   the next free one on its permutation offset + j*skip (mod M), until all M slots are taken.
 *   gcd < 1 (no dest with last_weight > 0) empties the table.
 * - Lookup: slot = hashkey(client addr, port, hash1, 0) % M (port = client source port with
 *   mh-port, else 0); the dest there is refused when weight <= 0 or overloaded. mh-fallback probes
 *   roff = (off + slot) % M for off = 0..M-1, slot' = hashkey(addr, port, hash1, roff) % M (the
 *   offset hashed in), stopping at an empty slot.
 * Quiescing a dest (weight 0) keeps its slots (last_weight is used), so nothing else moves.
 */

import type { IpvsDest } from '../dest.js';
import { addrFold, type HsipKey, hsiphash4, keyOf32 } from '../hash.js';
import type { SchedPacket, SchedResult, SchedService, Scheduler } from './types.js';
import { gcd } from './types.js';

export const MH_PRIMES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] as const;
export const MH_TAB_INDEX = 12;
export const MH_TAB_SIZE = MH_PRIMES[MH_TAB_INDEX - 8]!;
export const MH_TAB_BITS = MH_TAB_INDEX >> 1;
export const MH_HASH1: HsipKey = keyOf32(2654435761);
export const MH_HASH2: HsipKey = keyOf32(2654446892);

/** ip_vs_mh_hashkey. */
export function mhHashKey(addr: number, port: number, key: HsipKey, offset: number): number {
  return hsiphash4((offset + port + addr) >>> 0, key);
}

function fls(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}

export interface MhDestSetup {
  readonly offset: number;
  readonly skip: number;
  readonly turns: number;
}

/** The permutation inputs of one dest for table size m. */
export function mhPermutation(d: IpvsDest, m: number): { offset: number; skip: number } {
  const a = addrFold(d.ip);
  return {
    offset: mhHashKey(a, d.port, MH_HASH1, 0) % m,
    skip: (mhHashKey(a, d.port, MH_HASH2, 0) % (m - 1)) + 1,
  };
}

/** ip_vs_mh_permutate + ip_vs_mh_populate: the lookup table for a dest list (kernel order). */
export function mhPopulate(list: readonly IpvsDest[], m: number = MH_TAB_SIZE): (IpvsDest | undefined)[] {
  const lookup: (IpvsDest | undefined)[] = new Array(m).fill(undefined);
  let g = 0;
  let mw = 0;
  for (const d of list) {
    if (d.lastWeight > 0) g = g > 0 ? gcd(d.lastWeight, g) : d.lastWeight;
    if (d.lastWeight > mw) mw = d.lastWeight;
  }
  if (g < 1) return lookup;
  const shift = Math.max(0, fls(Math.floor(mw / g)) - MH_TAB_BITS);
  const n = list.length;
  const perm = new Int32Array(n);
  const skip = new Int32Array(n);
  const turns = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const d = list[i]!;
    const p = mhPermutation(d, m);
    perm[i] = p.offset;
    skip[i] = p.skip;
    const t = Math.floor(d.lastWeight / g) >> shift;
    turns[i] = t || (d.lastWeight !== 0 ? 1 : 0);
  }
  const taken = new Uint8Array(m);
  let filled = 0;
  let dtCount = 0;
  for (;;) {
    for (let i = 0; i < n; ) {
      if (turns[i]! < 1) {
        i++;
        continue;
      }
      let c = perm[i]!;
      while (taken[c]) {
        c += skip[i]!;
        if (c >= m) c -= m;
      }
      perm[i] = c;
      taken[c] = 1;
      lookup[c] = list[i];
      if (++filled === m) return lookup;
      if (++dtCount >= turns[i]!) {
        dtCount = 0;
        i++;
      }
    }
  }
}

function mhUnavailable(d: IpvsDest): boolean {
  return d.weight <= 0 || d.overloaded;
}

export class MaglevHash implements Scheduler {
  readonly name = 'mh';
  private lookup: (IpvsDest | undefined)[] = [];
  /** The list changed since the table was built. */
  private stale = true;
  constructor(readonly tableSize: number = MH_TAB_SIZE) {}

  /**
   * The kernel repopulates on every add, delete or update of a dest; the table depends only on the
   * list as it then is, so kpath builds it once, at the first lookup after a change (a service
   * programmed with five real servers populates once, not five times).
   */
  changed(): void {
    this.stale = true;
  }

  /** The lookup table for the service's current list. */
  table(svc: SchedService): readonly (IpvsDest | undefined)[] {
    if (this.stale) {
      this.lookup = mhPopulate(svc.dests, this.tableSize);
      this.stale = false;
    }
    return this.lookup;
  }

  schedule(svc: SchedService, pk: SchedPacket): SchedResult {
    const m = this.tableSize;
    const addr = addrFold(pk.src);
    const port = svc.flags.has('mh-port') ? pk.sport : 0;
    const slot = mhHashKey(addr, port, MH_HASH1, 0) % m;
    const probes: number[] = [];
    const key = pk.src.text;
    const explain = (dest: IpvsDest | undefined, note: string): SchedResult => ({
      dest,
      why: {
        scheduler: 'mh',
        key,
        port,
        slot,
        tableSize: m,
        probes,
        text: `maglev hashing: hsiphash(${key}${port ? ` + port ${port}` : ''}) % ${m} = slot ${slot}${note}`,
      },
    });
    const lookup = this.table(svc);
    const first = lookup[slot];
    if (!first) return explain(undefined, ', empty (no real servers with weight)');
    if (!mhUnavailable(first)) return explain(first, ` -> ${first.name}`);
    if (!svc.flags.has('mh-fallback'))
      return explain(
        undefined,
        ` -> ${first.name}, which has weight 0 or is overloaded: no destination (no mh-fallback)`,
      );
    for (let off = 0; off < m; off++) {
      const roff = (off + slot) % m;
      const h = mhHashKey(addr, port, MH_HASH1, roff) % m;
      probes.push(h);
      const d = this.lookup[h];
      if (!d) break;
      if (!mhUnavailable(d))
        return explain(
          d,
          ` -> ${first.name} is unavailable; mh-fallback probe ${off + 1} (slot ${h}) -> ${d.name}`,
        );
    }
    return explain(undefined, ` -> ${first.name} is unavailable and mh-fallback found no usable slot`);
  }

  /** schedule's dest, without the explanation (the same slot and probes). */
  pick(svc: SchedService, pk: SchedPacket): IpvsDest | undefined {
    const m = this.tableSize;
    const addr = addrFold(pk.src);
    const port = svc.flags.has('mh-port') ? pk.sport : 0;
    const slot = mhHashKey(addr, port, MH_HASH1, 0) % m;
    const lookup = this.table(svc);
    const first = lookup[slot];
    if (!first) return undefined;
    if (!mhUnavailable(first)) return first;
    if (!svc.flags.has('mh-fallback')) return undefined;
    for (let off = 0; off < m; off++) {
      const d = lookup[mhHashKey(addr, port, MH_HASH1, (off + slot) % m) % m];
      if (!d) break;
      if (!mhUnavailable(d)) return d;
    }
    return undefined;
  }
}
