/**
 * The page's compiled front-end (proxy/ui/web/*.ts -> dist/proxy/ui/web/*.js by `npm run build`),
 * found next to this module when running from dist/, or in dist/ when running from source.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CANDIDATES = ['./web/', '../../dist/proxy/ui/web/'];

let dir: string | undefined;

export function webDir(): string | undefined {
  if (dir) return dir;
  for (const c of CANDIDATES) {
    const d = fileURLToPath(new URL(c, import.meta.url));
    if (existsSync(`${d}app.js`)) {
      dir = d;
      return d;
    }
  }
  return undefined;
}

/** A compiled module by its bare name (`app.js`); undefined when there is no such file. */
export function webAsset(name: string): string | undefined {
  if (!/^[a-z][a-z0-9-]*\.js$/.test(name)) return undefined;
  const d = webDir();
  if (!d) return undefined;
  try {
    return readFileSync(`${d}${name}`, 'utf8');
  } catch {
    return undefined;
  }
}
