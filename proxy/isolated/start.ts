/**
 * Run a cluster for real in this process on loopback blocks of its own, next to whatever else runs
 * on the machine (a `kpath up`, another isolated run): no root, no fixed ports.
 *
 *   build the manifests (the DNS addon written out, so its ports move with the rest)
 *   -> for each slot: take the slot's lock (a listening socket on an address of the slot) -> relocate
 *      the manifests onto the slot's loopbackMap -> start the runtime (no health, metrics or
 *      127.0.0.1 node ports) -> ready; a bind failure (the slot is in use) -> stop, next slot
 *   stop() -> stop the runtime, release the lock
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { pino } from 'pino';
import {
  ADDED_ANNOTATION,
  buildCluster,
  type ClusterSnapshot,
  dnsAddonManifest,
  formatDiagnostic,
  type ManifestSource,
} from '../../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import { type Runtime, type RuntimeOptions, startRuntime } from '../runtime/index.js';
import { type Relocation, relocateManifests } from './relocate.js';

export interface Slot {
  readonly loopbackMap: Relocation['loopbackMap'];
  /** A loopback address:port inside the slot that one run at a time holds (none: no lock). */
  readonly lock?: { readonly host: string; readonly port: number };
  /** Runtime options of this slot's own (where Docker hosts' 127.0.0.1 ports and embedded DNS go). */
  readonly runtime?: Pick<RuntimeOptions, 'dockerLocalhost' | 'dockerDns'>;
}

export interface IsolatedOptions {
  readonly sources: readonly ManifestSource[];
  /** Tried in order until one starts. */
  readonly slots: readonly Slot[];
  /** Default: only when this process may not bind ports below 1024. */
  readonly shiftPorts?: boolean;
  readonly nodePort?: Relocation['nodePort'];
  readonly rename?: Relocation['rename'];
  /** Passed to the runtime (health, metrics, watch and snapshot are the isolated run's own). */
  readonly runtime?: Omit<RuntimeOptions, 'snapshot' | 'files' | 'health' | 'metrics' | 'watch'>;
}

export interface IsolatedRun {
  readonly rt: Runtime;
  /** The relocated cluster as built (model addresses as written; twins from the slot). */
  readonly snap: ClusterSnapshot;
  readonly slot: number;
  readonly shiftPorts: boolean;
  /** The manifests the runtime runs (relocated). */
  readonly sources: readonly ManifestSource[];
  stop(): Promise<void>;
}

/** Whether this process may bind ports below 1024 (root, or a lowered ip_unprivileged_port_start). */
export function mayBindPrivileged(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim()) <= 53;
  } catch {
    return false;
  }
}

function takeLock(lock: Slot['lock']): Promise<Server | null | undefined> {
  if (!lock) return Promise.resolve(null);
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen({ host: lock.host, port: lock.port, exclusive: true }, () => resolve(s));
  });
}

function built(sources: readonly ManifestSource[]): ClusterSnapshot {
  const r = buildCluster(sources);
  if (!r.ok)
    throw new KpathError(
      ErrorCodes.INVALID,
      `the cluster did not build: ${r.diagnostics
        .filter((d) => d.severity === 'error')
        .map(formatDiagnostic)
        .join('; ')}`,
    );
  return r.snapshot;
}

/** The manifests with the DNS addon the build would add written out as a source of its own. */
export function withDnsAddon(sources: readonly ManifestSource[]): ManifestSource[] {
  const snap = built(sources);
  const mine = <T extends { meta: { annotations: Readonly<Record<string, string>> } }>(l: readonly T[]) =>
    l.filter((o) => o.meta.annotations[ADDED_ANNOTATION] === undefined);
  const text = dnsAddonManifest(snap.config, mine(snap.services), mine(snap.workloads));
  return text ? [...sources, { file: '<builtin:dns-addon>', text }] : [...sources];
}

export async function startIsolated(opts: IsolatedOptions): Promise<IsolatedRun> {
  const shiftPorts = opts.shiftPorts ?? !mayBindPrivileged();
  const full = withDnsAddon(opts.sources);
  let last: unknown;
  for (let slot = 0; slot < opts.slots.length; slot++) {
    const s = opts.slots[slot]!;
    const lock = await takeLock(s.lock);
    if (lock === undefined) continue;
    const release = () => new Promise<void>((r) => (lock ? lock.close(() => r()) : r()));
    const sources = relocateManifests(full, {
      loopbackMap: s.loopbackMap,
      shiftPorts,
      ...(opts.nodePort ? { nodePort: opts.nodePort } : {}),
      ...(opts.rename ? { rename: opts.rename } : {}),
    });
    let snap: ClusterSnapshot;
    try {
      snap = built(sources);
    } catch (e) {
      await release();
      throw e;
    }
    const rt = startRuntime({
      logger: pino({ level: 'silent' }),
      ...opts.runtime,
      ...s.runtime,
      snapshot: snap,
      health: null,
      metrics: null,
      watch: false,
    });
    try {
      await rt.ready;
      return {
        rt,
        snap,
        slot,
        shiftPorts,
        sources,
        stop: async () => {
          await rt.stop();
          await release();
        },
      };
    } catch (e) {
      last = e;
      await rt.stop();
      await release();
    }
  }
  throw (
    last ??
    new KpathError(
      ErrorCodes.LISTEN,
      `every one of the ${opts.slots.length} loopback blocks for isolated runs is in use; stop one (another kpath lab check or demo) and try again`,
    )
  );
}
