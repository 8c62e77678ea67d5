/**
 * A time (ms on the caller's clock) kept in two small-integer fields instead of one number field.
 *
 * V8 keeps a number field that ever held a value outside the small-integer range (31 bits) as a
 * separate heap object (a HeapNumber box) in every instance of the class. The runtime's clock is
 * Date.now() (~1.7e12), so each expiry and creation time of a conntrack or IPVS entry was one more
 * object for the garbage collector to copy and mark, ~30,000 of each at bench rates. Split as
 * `hi * 2^30 + lo` with `lo` in [0, 2^30), both halves of an integer time are small integers and
 * live inside the entry. The value read back is always the one stored: a time the split would not
 * give back exactly (a tiny negative fraction, Infinity, NaN) keeps hi = 0 and lo = the time, and a
 * fractional time only makes `lo` fractional (boxed again, still exact).
 */

const SPLIT = 2 ** 30;

/** The high half of `t`. */
export function timeHi(t: number): number {
  const hi = Math.floor(t / SPLIT);
  return hi * SPLIT + (t - hi * SPLIT) === t ? hi : 0;
}

/** The low half of `t`, given its high half. */
export function timeLo(t: number, hi: number): number {
  const lo = t - hi * SPLIT;
  // `| 0` makes a whole value a small integer for V8: the subtraction of two heap numbers gives a
  // heap number, and storing one would turn the field into a boxed double field for every entry.
  return (lo | 0) === lo ? lo | 0 : lo;
}

/** The time whose halves are `hi` and `lo`. */
export function timeOf(hi: number, lo: number): number {
  return hi * SPLIT + lo;
}
