/**
 * What a check kind is: `parse` decodes the check as lab.yaml writes it (a lab author's mistake is a
 * KPATH_E_INVALID naming the field), `observe` sends the real traffic through the running cluster and
 * records what came back, `judge` (pure) compares that with the expectation and says, in the
 * learner's terms, what was observed against what was expected, never how to fix it.
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import type { TwinMap } from '../../netmodel/twins.js';

export interface CheckEnv {
  /** The running cluster (model addresses as written; its twins are the isolated run's). */
  readonly snap: ClusterSnapshot;
  readonly twins: TwinMap;
  /** The real port a model port listens on (privileged ports are moved when not root). */
  readonly realPort: (port: number) => number;
  /** Move the cluster's clock forward (affinity and conntrack ages) instead of waiting. */
  readonly advance: (ms: number) => void;
  /**
   * The run's Docker hosts (when the lab has any): the address serving the hosts' 127.0.0.1, and
   * where their embedded DNS (127.0.0.11:53 on a real host) listens, once a user-defined network
   * has a container.
   */
  readonly docker?: {
    readonly localhost: string;
    readonly dns?: { readonly host: string; readonly port: number };
  };
}

export interface Verdict {
  readonly passed: boolean;
  readonly detail: string;
}

export interface CheckKind<S, O> {
  parse(raw: Readonly<Record<string, unknown>>, where: string): S;
  observe(env: CheckEnv, spec: S): Promise<O>;
  judge(spec: S, observed: O): Verdict;
}

/** Field readers for parse: each throws KPATH_E_INVALID naming `where` and the field. */
export function fieldError(where: string, field: string, what: string): KpathError {
  return new KpathError(ErrorCodes.INVALID, `${where}: ${field}: ${what}`);
}

export function reqString(raw: Readonly<Record<string, unknown>>, k: string, where: string): string {
  const v = raw[k];
  if (typeof v !== 'string' || !v) throw fieldError(where, k, 'required, a string');
  return v;
}

export function optString(
  raw: Readonly<Record<string, unknown>>,
  k: string,
  where: string,
): string | undefined {
  const v = raw[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v) throw fieldError(where, k, 'a non-empty string');
  return v;
}

export function optNumber(
  raw: Readonly<Record<string, unknown>>,
  k: string,
  where: string,
  min: number,
  max: number,
): number | undefined {
  const v = raw[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw fieldError(where, k, `a number from ${min} to ${max}`);
  return v;
}

export function optObject(
  raw: Readonly<Record<string, unknown>>,
  k: string,
  where: string,
): Readonly<Record<string, unknown>> {
  const v = raw[k];
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fieldError(where, k, 'a mapping');
  return v as Record<string, unknown>;
}

/** Only these keys may appear (a misspelled expectation must not pass silently). */
export function onlyKeys(
  raw: Readonly<Record<string, unknown>>,
  keys: readonly string[],
  where: string,
): void {
  for (const k of Object.keys(raw))
    if (!keys.includes(k)) throw fieldError(where, k, `unknown field (expected one of ${keys.join(', ')})`);
}
