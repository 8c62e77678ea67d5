/**
 * Seeded randomness for netmodel. Nothing in netmodel calls Math.random: a Rng is passed in, so the
 * same seed gives the same path.
 *
 * The generator is xoshiro128** (Blackman & Vigna), seeded through splitmix32. It yields uint32
 * values, which is what the kernel's statistic match consumes (get_random_u32()).
 */
export interface Rng {
  /** A uniformly distributed integer in [0, 2^32). */
  uint32(): number;
  /**
   * Optional: decide a random event of probability p31 / 2^31 directly (the statistic match's test).
   * Tracers that enumerate every path implement it to choose each branch; when absent, callers draw
   * `(uint32() & 0x7FFFFFFF) < p31` as the kernel does.
   */
  bernoulli?(p31: number): boolean;
  /**
   * Optional: pick one of several alternatives whose likelihoods are `weights` (summing to 1), and
   * return its index. Only tracers that enumerate every path implement it; the emulated IPVS offers
   * it the real servers a state-dependent scheduler (rr, lc...) could pick. When absent, the
   * caller's own deterministic choice stands.
   */
  choose?(weights: readonly number[]): number;
}

/** The kernel's random test for a 31-bit fixed-point probability, honouring `Rng.bernoulli`. */
export function chance31(rng: Rng, p31: number): boolean {
  return rng.bernoulli ? rng.bernoulli(p31) : (rng.uint32() & 0x7fffffff) < p31;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    const sm = splitmix32(seed);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1;
  }
  uint32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    return r;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A float in [0, 1). */
export function float(rng: Rng): number {
  return rng.uint32() / 0x1_0000_0000;
}

/** An integer in [0, n). */
export function intBelow(rng: Rng, n: number): number {
  return Math.floor(float(rng) * n);
}

/** A Fisher-Yates shuffle into a new array. */
export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = intBelow(rng, i + 1);
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}
