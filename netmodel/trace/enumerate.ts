/**
 * Every reachable outcome of a walk, with its probability. The only branch points are random events
 * (the statistic match, decided through `Rng.bernoulli`); a depth-first search replays the walk with
 * each choice flipped in turn. Each replay needs fresh kernel state, so the caller passes a function
 * that builds the node and walks the packet with the Rng it is given.
 */
import type { Rng } from '../rng.js';

const ONE = 0x8000_0000;

interface Decision {
  readonly p31: number;
  readonly taken: boolean;
}

/** Follows a fixed prefix of choices, then takes every branch ("match") by default. */
class PathRng implements Rng {
  readonly decisions: Decision[] = [];
  constructor(
    private readonly prefix: readonly boolean[],
    private readonly base: Rng,
  ) {}
  uint32(): number {
    return this.base.uint32();
  }
  bernoulli(p31: number): boolean {
    const i = this.decisions.length;
    const taken = p31 <= 0 ? false : p31 >= ONE ? true : i < this.prefix.length ? this.prefix[i]! : true;
    this.decisions.push({ p31, taken });
    return taken;
  }
}

export interface EnumeratedPath<T> {
  readonly probability: number;
  readonly result: T;
  /** The choices made, in order (true: the random rule matched). */
  readonly choices: readonly boolean[];
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
  const stack: boolean[][] = [[]];
  while (stack.length > 0 && out.length < max) {
    const prefix = stack.pop()!;
    const rng = new PathRng(prefix, opts.baseSeed());
    const result = walk(rng);
    let probability = 1;
    const choices = rng.decisions.map((d) => d.taken);
    for (const d of rng.decisions) {
      if (d.p31 <= 0 || d.p31 >= ONE) continue;
      const p = d.p31 / ONE;
      probability *= d.taken ? p : 1 - p;
    }
    out.push({ probability, result, choices });
    // Branch on every real choice made after the prefix, deepest last so the order is "first rule first".
    for (let j = rng.decisions.length - 1; j >= prefix.length; j--) {
      const d = rng.decisions[j]!;
      if (d.p31 <= 0 || d.p31 >= ONE || !d.taken) continue;
      stack.push([...choices.slice(0, j), false]);
    }
  }
  return out;
}
