/**
 * The statistic match's fixed-point probability. iptables stores `lround(p * 2^31)` and the kernel
 * matches when `(random & 0x7FFFFFFF) < stored`; iptables-save prints `stored / 2^31` with `%.11f`.
 */

/** `--probability p` as iptables stores it (libxt_statistic: lround(0x80000000 * p)). */
export function probabilityToFixed(p: number): number {
  return Math.round(0x80000000 * p);
}

/** stored / 2^31 with `digits` decimals, rounded exactly (half to even, as glibc printf does). */
export function fixedToDecimal(stored: number, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const num = BigInt(stored) * scale;
  const den = 1n << 31n;
  let q = num / den;
  const r = num % den;
  const twice = 2n * r;
  if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  const whole = q / scale;
  const frac = (q % scale).toString().padStart(digits, '0');
  return digits === 0 ? whole.toString() : `${whole}.${frac}`;
}
