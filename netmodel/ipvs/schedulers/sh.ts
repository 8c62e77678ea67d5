/**
 * sh, source hashing (net/netfilter/ipvs/ip_vs_sh.c), and dh, destination hashing (ip_vs_dh.c).
 *
 * Both keep 256 buckets (CONFIG_IP_VS_SH_TAB_BITS / CONFIG_IP_VS_DH_TAB_BITS = 8), refilled on every
 * add, delete or update of a dest by walking the buckets 0..255 while moving through the dest list
 * in kernel order, wrapping as often as needed:
 *   sh: each dest takes `weight` consecutive buckets (`++count >= weight` moves on, so weight 0 still
 *       takes one bucket, refused at lookup);
 *   dh: one bucket per dest in turn, weights ignored.
 *
 * Keys (ip_vs_sh_hashkey / ip_vs_dh_hashkey):
 *   sh: bucket = (offset + hash_32(port + addr, 8)) & 255, addr = ntohl(client address) (IPv6 folded
 *       by XOR), port = the client's source port with sh-port, else 0, offset 0 unless falling back;
 *   dh: bucket = hash_32(ntohl(destination address), 8).
 * A bucket's dest is refused when it has weight <= 0 or is overloaded (dh also when not available).
 * sh-fallback probes, for off = 0..255, roff = (off + ihash) % 256 passed as the offset, which the
 * key adds after hashing: bucket (2*ihash + off) & 255, stopping at an empty bucket.
 */

import type { IpvsDest } from '../dest.js';
import { addrFold, hash32 } from '../hash.js';
import type { SchedPacket, SchedResult, SchedService, Scheduler } from './types.js';

export const SH_TAB_BITS = 8;
export const SH_TAB_SIZE = 1 << SH_TAB_BITS;
const MASK = SH_TAB_SIZE - 1;

/** ip_vs_sh_hashkey: (offset + hash_32(port + addr, 8)) & 255. */
export function shHashKey(addr: number, port: number, offset: number): number {
  return (offset + hash32((port + addr) >>> 0, SH_TAB_BITS)) & MASK;
}

function shUnavailable(d: IpvsDest): boolean {
  return d.weight <= 0 || d.overloaded;
}

export class SourceHash implements Scheduler {
  readonly name = 'sh';
  readonly buckets: (IpvsDest | undefined)[] = new Array(SH_TAB_SIZE).fill(undefined);

  /** ip_vs_sh_reassign. */
  changed(svc: SchedService): void {
    const list = svc.dests;
    let p = 0;
    let count = 0;
    for (let i = 0; i < SH_TAB_SIZE; i++) {
      if (list.length === 0) {
        this.buckets[i] = undefined;
        continue;
      }
      if (p >= list.length) p = 0;
      const d = list[p]!;
      this.buckets[i] = d;
      if (++count >= d.weight) {
        p++;
        count = 0;
      }
    }
  }

  schedule(svc: SchedService, pk: SchedPacket): SchedResult {
    const addr = addrFold(pk.src);
    const port = svc.flags.has('sh-port') ? pk.sport : 0;
    const ihash = shHashKey(addr, port, 0);
    const key = pk.src.text;
    const first = this.buckets[ihash];
    const probes: number[] = [];
    const explain = (dest: IpvsDest | undefined, note: string): SchedResult => ({
      dest,
      why: {
        scheduler: 'sh',
        key,
        port,
        bucket: ihash,
        probes,
        text: `source hashing: hash_32(${port ? `${port} + ` : ''}${key} = ${addr >>> 0}, 8) = bucket ${ihash} of ${SH_TAB_SIZE}${note}`,
      },
    });
    if (!first) return explain(undefined, ', empty (no real servers)');
    if (!shUnavailable(first)) return explain(first, ` -> ${first.name}`);
    if (!svc.flags.has('sh-fallback'))
      return explain(
        undefined,
        ` -> ${first.name}, which has weight 0 or is overloaded: no destination (no sh-fallback)`,
      );
    for (let off = 0; off < SH_TAB_SIZE; off++) {
      const roff = (off + ihash) % SH_TAB_SIZE;
      const h = shHashKey(addr, port, roff);
      probes.push(h);
      const d = this.buckets[h];
      if (!d) break;
      if (!shUnavailable(d))
        return explain(
          d,
          ` -> ${first.name} is unavailable; sh-fallback probe ${off + 1} (bucket ${h}) -> ${d.name}`,
        );
    }
    return explain(undefined, ` -> ${first.name} is unavailable and sh-fallback found no usable bucket`);
  }

  /** schedule's dest, without the explanation (the same buckets and probes). */
  pick(svc: SchedService, pk: SchedPacket): IpvsDest | undefined {
    const addr = addrFold(pk.src);
    const port = svc.flags.has('sh-port') ? pk.sport : 0;
    const ihash = shHashKey(addr, port, 0);
    const first = this.buckets[ihash];
    if (!first) return undefined;
    if (!shUnavailable(first)) return first;
    if (!svc.flags.has('sh-fallback')) return undefined;
    for (let off = 0; off < SH_TAB_SIZE; off++) {
      const d = this.buckets[shHashKey(addr, port, (off + ihash) % SH_TAB_SIZE)];
      if (!d) break;
      if (!shUnavailable(d)) return d;
    }
    return undefined;
  }
}

/** ip_vs_dh_hashkey: hash_32(ntohl(addr), 8). */
export function dhHashKey(addr: number): number {
  return hash32(addr, SH_TAB_BITS);
}

export class DestinationHash implements Scheduler {
  readonly name = 'dh';
  readonly buckets: (IpvsDest | undefined)[] = new Array(SH_TAB_SIZE).fill(undefined);

  /** ip_vs_dh_reassign: one bucket per dest in turn. */
  changed(svc: SchedService): void {
    const list = svc.dests;
    for (let i = 0; i < SH_TAB_SIZE; i++) this.buckets[i] = list.length ? list[i % list.length] : undefined;
  }

  schedule(_svc: SchedService, pk: SchedPacket): SchedResult {
    const addr = addrFold(pk.dst);
    const bucket = dhHashKey(addr);
    const d = this.buckets[bucket];
    const ok = d?.available && d.weight > 0 && !d.overloaded;
    return {
      dest: ok ? d : undefined,
      why: {
        scheduler: 'dh',
        key: pk.dst.text,
        port: 0,
        bucket,
        probes: [],
        text: `destination hashing: hash_32(${pk.dst.text} = ${addr}, 8) = bucket ${bucket} of ${SH_TAB_SIZE} -> ${d ? `${d.name}${ok ? '' : ' (unavailable: no destination)'}` : 'empty'}`,
      },
    };
  }

  /** schedule's dest, without the explanation. */
  pick(_svc: SchedService, pk: SchedPacket): IpvsDest | undefined {
    const d = this.buckets[dhHashKey(addrFold(pk.dst))];
    return d?.available && d.weight > 0 && !d.overloaded ? d : undefined;
  }
}
