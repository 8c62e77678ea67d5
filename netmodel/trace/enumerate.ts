/**
 * Every reachable outcome of a walk, with its probability. The branch points are random events
 * (the statistic match, decided through `Rng.bernoulli`) and choices among alternatives whose pick
 * depends on state a trace cannot know (the real servers an IPVS rr or lc scheduler could pick,
 * offered through `Rng.choose`); a depth-first search replays the walk with each branch taken in
 * turn. Each replay needs fresh kernel state, so the caller passes a function that builds the node
 * and walks the packet with the Rng it is given.
 */
import type { Rng } from '../rng.js';

const ONE = 0x8000_0000;

interface Decision {
  /** The likelihood of each branch (a random rule: [matches, does not]). */
  readonly weights: readonly number[];
  /** The branch taken. */
  readonly index: number;
  /** False when the outcome was certain (p31 at 0 or 2^31): nothing to branch on. */
  readonly branches: boolean;
}

/** Follows a fixed prefix of choices, then takes the first branch ("match", the first alternative). */
class PathRng implements Rng {
  readonly decisions: Decision[] = [];
  constructor(
    private readonly prefix: readonly number[],
    private readonly base: Rng,
  ) {}
  uint32(): number {
    return this.base.uint32();
  }
  bernoulli(p31: number): boolean {
    const i = this.decisions.length;
    const certain = p31 <= 0 || p31 >= ONE;
    const index = p31 <= 0 ? 1 : p31 >= ONE ? 0 : i < this.prefix.length ? this.prefix[i]! : 0;
    const p = Math.min(1, Math.max(0, p31 / ONE));
    this.decisions.push({ weights: [p, 1 - p], index, branches: !certain });
    return index === 0;
  }
  choose(weights: readonly number[]): number {
    const i = this.decisions.length;
    const index = i < this.prefix.length ? this.prefix[i]! : 0;
    this.decisions.push({ weights, index, branches: weights.length > 1 });
    return index;
  }
}

export interface EnumeratedPath<T> {
  readonly probability: number;
  readonly result: T;
  /** The branch taken at each decision, in order (a random rule: 0 matched, 1 did not). */
  readonly choices: readonly number[];
}

/**
 * Run `walk` once per distinct path. `baseSeed` feeds the randomness that is not a branch (NAT port
 * choice). Stops after `maxPaths` (a ruleset can have very many paths); the probabilities of the
 * paths returned then sum to less than 1.
 */
export function enumeratePaths<T>(
  walk: (rng: Rng) => T,
  opts: { baseSeed: () => Rng; maxPaths?: number },
): EnumeratedPath<T>[] {
  const max = opts.maxPaths ?? 1000;
  const out: EnumeratedPath<T>[] = [];
  const stack: number[][] = [[]];
  while (stack.length > 0 && out.length < max) {
    const prefix = stack.pop()!;
    const rng = new PathRng(prefix, opts.baseSeed());
    const result = walk(rng);
    let probability = 1;
    const choices = rng.decisions.map((d) => d.index);
    for (const d of rng.decisions) if (d.branches) probability *= d.weights[d.index]!;
    out.push({ probability, result, choices });
    // Branch on every real choice made after the prefix, deepest pushed first so that the order is
    // "first rule first", and a choice's alternatives in their order.
    for (let j = rng.decisions.length - 1; j >= prefix.length; j--) {
      const d = rng.decisions[j]!;
      if (!d.branches || d.index !== 0) continue;
      for (let k = d.weights.length - 1; k >= 1; k--) stack.push([...choices.slice(0, j), k]);
    }
  }
  return out;
}
