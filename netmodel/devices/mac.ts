/**
 * MAC addresses as `ip link` prints them (lower-case, colon-separated). The kernel gives veth, bridge
 * and vxlan devices random addresses (eth_random_addr: the locally administered bit set, the
 * multicast bit clear); kpath cannot use randomness for them, so it derives each one from a seed
 * (the namespace and device name, or an address) with the same two bits, and the same seed always
 * gives the same MAC.
 */

export type Mac = string;

export const BROADCAST_MAC: Mac = 'ff:ff:ff:ff:ff:ff';
/** The MAC Calico gives every host-side cali veth (felix sets it so the pod side never learns a real one). */
export const CALICO_HOST_MAC: Mac = 'ee:ee:ee:ee:ee:ee';

/** FNV-1a over the UTF-16 code units of `s`, 32 bits. */
function fnv(s: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

/** A locally administered unicast MAC derived from `seed` (as eth_random_addr's bits: 0x02 set, 0x01 clear). */
export function deriveMac(seed: string): Mac {
  const a = fnv(seed, 0x811c9dc5);
  const b = fnv(seed, 0x050c5d1f);
  const bytes = [((a >>> 24) & 0xfe) | 0x02, a >>> 16, a >>> 8, a, b >>> 8, b];
  return bytes.map(hex2).join(':');
}

/** Six bytes of a MAC (for frame encoders). */
export function macBytes(m: Mac): number[] {
  return m.split(':').map((x) => Number.parseInt(x, 16));
}

export function isBroadcastMac(m: Mac): boolean {
  return m === BROADCAST_MAC;
}
