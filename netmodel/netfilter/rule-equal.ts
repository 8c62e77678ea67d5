/** Structural rule equality (ignoring counters), as `-D CHAIN rule-spec` needs it. */
import type { Rule } from './ruleset.js';

function eq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'bigint' || typeof b === 'bigint') return a === b;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!eq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export function rulesEqual(a: Rule, b: Rule): boolean {
  return eq(a.matches, b.matches) && eq(a.target, b.target);
}
