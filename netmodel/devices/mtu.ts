/**
 * What the kernel does with a packet bigger than the MTU of the device it leaves on (ip_finish_output
 * / ip_fragment, ip_forward):
 *
 *   fits                          -> sent as is
 *   too big, generated here, DF   -> the send fails in the sender: EMSGSIZE (ip_local_out never sees it)
 *   too big, forwarded, DF        -> dropped; ICMP destination unreachable, fragmentation needed
 *                                    (type 3 code 4) carrying the next-hop MTU goes back to the source
 *   too big, no DF                -> split into fragments: each carries a multiple of 8 data bytes
 *                                    ((mtu - header) rounded down to 8), the last one the rest
 */
import type { Packet } from '../packet.js';
import type { Fragment } from './frame.js';

export type MtuDecision =
  | { readonly kind: 'fits' }
  | { readonly kind: 'emsgsize'; readonly mtu: number }
  | { readonly kind: 'frag-needed'; readonly mtu: number }
  | { readonly kind: 'fragment'; readonly mtu: number; readonly fragments: readonly Fragment[] };

/** The IPv4 header without options. */
export const IPV4_HEADER = 20;

/** Split an IPv4 packet of `length` bytes for `mtu` (ip_do_fragment's sizes). */
export function fragmentsOf(length: number, mtu: number): Fragment[] {
  const data = length - IPV4_HEADER;
  const per = Math.floor((mtu - IPV4_HEADER) / 8) * 8;
  const out: Fragment[] = [];
  for (let off = 0; off < data; off += per) {
    const n = Math.min(per, data - off);
    out.push({ offset: off, length: IPV4_HEADER + n, mf: off + n < data });
  }
  return out;
}

export function checkMtu(p: Packet, mtu: number, forwarded: boolean): MtuDecision {
  if (p.length <= mtu) return { kind: 'fits' };
  if (p.df || p.family === 6) return forwarded ? { kind: 'frag-needed', mtu } : { kind: 'emsgsize', mtu };
  return { kind: 'fragment', mtu, fragments: fragmentsOf(p.length, mtu) };
}
