/**
 * kubeconfig files for the kpath API: one of its own (cluster, user and context all named `kpath`),
 * and merging those three entries into another kubeconfig (~/.kube/config) without touching the rest.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import { writeFileAtomic } from './state-files.js';

export const CONTEXT_NAME = 'kpath';

export function defaultKpathDir(): string {
  return join(homedir(), '.kpath');
}

export function defaultKubeconfigPath(): string {
  return join(defaultKpathDir(), 'kubeconfig');
}

export function defaultStateDir(): string {
  return join(defaultKpathDir(), 'state');
}

type Named = { name: string; [k: string]: unknown };

function entries(server: string, caPem: string, token: string) {
  return {
    cluster: {
      name: CONTEXT_NAME,
      cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
    },
    user: { name: CONTEXT_NAME, user: { token } },
    context: { name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: CONTEXT_NAME } },
  };
}

/** The kubeconfig text for the API at `server` (https://HOST:PORT). */
export function kubeconfigText(server: string, caPem: string, token: string): string {
  const e = entries(server, caPem, token);
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [e.cluster],
    users: [e.user],
    contexts: [e.context],
    'current-context': CONTEXT_NAME,
    preferences: {},
  });
}

export function writeKubeconfig(path: string, server: string, caPem: string, token: string): void {
  writeFileAtomic(path, kubeconfigText(server, caPem, token), 0o600);
}

function upsert(list: unknown, entry: Named): Named[] {
  const arr = Array.isArray(list) ? (list as Named[]).filter((x) => x && x.name !== entry.name) : [];
  return [...arr, entry];
}

/**
 * Copy the `kpath` cluster, user and context from `fromPath` into `intoPath` (created if missing),
 * replacing entries of the same name; current-context is set only when the target has none.
 */
export function mergeKubeconfig(fromPath: string, intoPath: string): void {
  let src: Record<string, unknown>;
  try {
    src = parse(readFileSync(fromPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new KpathError(
      ErrorCodes.NOT_FOUND,
      `${fromPath}: cannot read the kpath kubeconfig (start \`kpath up\` once to write it)`,
      { cause: e },
    );
  }
  const pick = (k: string) => ((src[k] as Named[] | undefined) ?? []).find((x) => x.name === CONTEXT_NAME);
  const cluster = pick('clusters');
  const user = pick('users');
  const context = pick('contexts');
  if (!cluster || !user || !context) {
    throw new KpathError(
      ErrorCodes.INVALID,
      `${fromPath}: has no "${CONTEXT_NAME}" context; delete it and restart kpath up`,
    );
  }
  let dst: Record<string, unknown> = {};
  try {
    dst = (parse(readFileSync(intoPath, 'utf8')) as Record<string, unknown> | null) ?? {};
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KpathError(
        ErrorCodes.INVALID,
        `${intoPath}: not a readable kubeconfig (${(e as Error).message})`,
        {
          cause: e,
        },
      );
    }
  }
  const out: Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Config',
    ...dst,
    clusters: upsert(dst.clusters, cluster),
    users: upsert(dst.users, user),
    contexts: upsert(dst.contexts, context),
  };
  if (!out['current-context']) out['current-context'] = CONTEXT_NAME;
  writeFileAtomic(intoPath, stringify(out), 0o600);
}
