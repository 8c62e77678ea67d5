/**
 * What the API changed, kept over the manifest files and persisted in the state directory
 * (`objects.json`, written atomically before a write is answered):
 *   puts       objects created or changed through the API (the whole object as stored)
 *   deletes    objects from the manifests deleted through the API (tombstones)
 *   deletedPods  per workload, the names of its pods deleted through the API (they come back renamed)
 * Each put and tombstone remembers the manifest object it shadows (a fingerprint, or null); when the
 * manifests later change that object, the manifest wins and the API's entry is dropped: the last
 * change wins, whichever side made it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import type { Obj } from './render.js';
import { writeFileAtomic } from './state-files.js';

export interface OverlayEntry {
  /** The object as stored; absent for a tombstone. */
  readonly body?: Obj;
  /** Fingerprint of the manifest object this entry shadows; null if the manifests had none. */
  readonly fileFp: string | null;
}

export interface StateData {
  readonly resourceVersion: number;
  /** `resourceId/key` (e.g. `apps/deployments/default/web`) -> entry. */
  readonly objects: Readonly<Record<string, OverlayEntry>>;
  /** `resourceId/key` of a workload -> its deleted pods' names. */
  readonly deletedPods: Readonly<Record<string, readonly string[]>>;
}

export const STATE_FILE = 'objects.json';
const FORMAT = 1;

export function emptyState(): StateData {
  return { resourceVersion: 0, objects: {}, deletedPods: {} };
}

export function fileFingerprint(body: Obj | undefined): string | null {
  return body ? canonicalJson(body) : null;
}

export function readState(dir: string): StateData {
  const path = join(dir, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw new KpathError(
      ErrorCodes.MANIFEST,
      `${path}: cannot read the API state (${(e as Error).message})`,
      {
        cause: e,
      },
    );
  }
  try {
    const j = JSON.parse(text) as { format?: number } & Partial<StateData>;
    if (j.format !== FORMAT || typeof j.objects !== 'object' || j.objects === null)
      throw new Error(`format ${j.format}`);
    return {
      resourceVersion: typeof j.resourceVersion === 'number' ? j.resourceVersion : 0,
      objects: j.objects,
      deletedPods: j.deletedPods ?? {},
    };
  } catch (e) {
    throw new KpathError(
      ErrorCodes.MANIFEST,
      `${path}: not a kpath API state file (${(e as Error).message}); move it away or start with --fresh`,
      { cause: e },
    );
  }
}

export function writeState(dir: string, s: StateData): void {
  writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify({ format: FORMAT, ...s })}\n`, 0o600);
}
