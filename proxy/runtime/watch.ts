/**
 * Watching manifest paths: a directory is watched itself; a file through its directory (editors
 * replace files by rename, which would orphan a watch on the file). Bursts of events are debounced
 * into one reload.
 */
import { type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export function watchManifests(
  paths: readonly string[],
  cwd: string,
  debounceMs: number,
  onChange: () => void,
  onError: (e: Error) => void,
): () => void {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
  };
  const dirs = new Map<string, Set<string> | null>();
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let isDir = false;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      // a missing file is watched through its directory: creating it reloads
    }
    if (isDir) dirs.set(abs, null);
    else {
      const d = dirname(abs);
      const cur = dirs.get(d);
      if (cur === null) continue;
      dirs.set(d, (cur ?? new Set<string>()).add(basename(abs)));
    }
  }
  for (const [dir, names] of dirs) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (names && name && !names.has(name.toString())) return;
        fire();
      });
      w.on('error', onError);
      watchers.push(w);
    } catch (e) {
      onError(e as Error);
    }
  }
  return () => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
