/** A check kind made callable without its types: parse once, then observe and judge per run. */
import type { CheckEnv, CheckKind, Verdict } from './types.js';

export interface PreparedCheck {
  run(env: CheckEnv): Promise<Verdict>;
}

export interface RegisteredKind {
  /** Decode the check (throws KPATH_E_INVALID naming `where`). */
  prepare(raw: Readonly<Record<string, unknown>>, where: string): PreparedCheck;
}

export function register<S, O>(k: CheckKind<S, O>): RegisteredKind {
  return {
    prepare(raw, where) {
      const spec = k.parse(raw, where);
      return { run: async (env) => k.judge(spec, await k.observe(env, spec)) };
    },
  };
}
