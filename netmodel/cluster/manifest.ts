/**
 * Manifest text -> raw Kubernetes objects, each remembering where it came from so that any field can be
 * reported as file:line:column. Pure: the caller reads the files and hands over their text.
 */
import { type Document, isMap, isScalar, LineCounter, parseAllDocuments, type Node as YamlNode } from 'yaml';
import type { Diagnostic, FieldPath, Origin, SourcePos } from './diagnostics.js';

export interface ManifestSource {
  /** A name for messages: the path as the user gave it, or `<stdin>`, `<builtin:...>`. */
  readonly file: string;
  readonly text: string;
}

/** One Kubernetes object as written, with its origin. */
export interface RawObject {
  readonly body: Record<string, unknown>;
  readonly origin: Origin;
}

function makeOrigin(file: string, doc: Document, lc: LineCounter, prefix: FieldPath): Origin {
  const origin: Origin = {
    file,
    locateKey(path: FieldPath): SourcePos {
      const full = [...prefix, ...path];
      const parent = full.length ? (doc.getIn(full.slice(0, -1), true) as YamlNode | undefined) : undefined;
      if (parent && isMap(parent)) {
        const key = full[full.length - 1];
        const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === key);
        const k = pair?.key as YamlNode | undefined;
        if (k?.range) {
          const p = lc.linePos(k.range[0]);
          return { file, line: p.line, col: p.col };
        }
      }
      return origin.locate(path);
    },
    locate(path: FieldPath): SourcePos {
      const full = [...prefix, ...path];
      for (let n = full.length; n >= 0; n--) {
        const node = doc.getIn(full.slice(0, n), true) as YamlNode | undefined;
        if (node && typeof node === 'object' && 'range' in node && node.range) {
          const p = lc.linePos(node.range[0]);
          return { file, line: p.line, col: p.col };
        }
        // A key whose value is null has no value node; point at the key instead.
        if (n > 0) {
          const parent = doc.getIn(full.slice(0, n - 1), true) as YamlNode | undefined;
          if (parent && isMap(parent)) {
            const key = full[n - 1];
            const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === key);
            const k = pair?.key as YamlNode | undefined;
            if (k?.range) {
              const p = lc.linePos(k.range[0]);
              return { file, line: p.line, col: p.col };
            }
          }
        }
      }
      return { file, line: 1, col: 1 };
    },
  };
  return origin;
}

/**
 * Parse every document of every source. YAML syntax errors and documents that are not objects become
 * diagnostics; the rest become raw objects (a `List` is expanded into its items).
 */
export function parseManifests(sources: readonly ManifestSource[], diags: Diagnostic[]): RawObject[] {
  const out: RawObject[] = [];
  for (const src of sources) {
    const lc = new LineCounter();
    const docs = parseAllDocuments(src.text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
    const list = Array.isArray(docs) ? docs : [docs];
    for (const doc of list) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          const p = lc.linePos(e.pos[0]);
          diags.push({
            severity: 'error',
            pos: { file: src.file, line: p.line, col: p.col },
            message: `YAML syntax: ${e.message.split('\n')[0]} (fix the YAML; nothing in this file was loaded)`,
          });
        }
        continue;
      }
      for (const w of doc.warnings) {
        const p = lc.linePos(w.pos[0]);
        diags.push({
          severity: 'warning',
          pos: { file: src.file, line: p.line, col: p.col },
          message: w.message,
        });
      }
      // Empty and comment-only documents (a trailing ---, Helm's `# Source:` stubs) and a bare `null`
      // are skipped, as kubectl's stream visitor skips documents that decode to nothing or "null".
      if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue;
      let body: unknown;
      try {
        body = doc.toJS({ maxAliasCount: 1000 });
      } catch (e) {
        const p = doc.contents.range ? lc.linePos(doc.contents.range[0]) : { line: 1, col: 1 };
        diags.push({
          severity: 'error',
          pos: { file: src.file, line: p.line, col: p.col },
          message: `YAML: ${(e as Error).message}`,
        });
        continue;
      }
      const origin = makeOrigin(src.file, doc, lc, []);
      if (!isPlainObject(body)) {
        diags.push({
          severity: 'error',
          pos: origin.locate([]),
          message: 'a document must be a Kubernetes object (a mapping with apiVersion, kind and metadata)',
        });
        continue;
      }
      if (
        body.kind === 'List' ||
        (typeof body.kind === 'string' && body.kind.endsWith('List') && Array.isArray(body.items))
      ) {
        const items = body.items;
        if (!Array.isArray(items)) {
          diags.push({
            severity: 'error',
            pos: origin.locate(['items']),
            field: 'items',
            message: 'a List needs an items array',
          });
          continue;
        }
        items.forEach((item, i) => {
          const itemOrigin = makeOrigin(src.file, doc, lc, ['items', i]);
          if (!isPlainObject(item)) {
            diags.push({
              severity: 'error',
              pos: itemOrigin.locate([]),
              field: `items[${i}]`,
              message: 'a List item must be an object',
            });
            return;
          }
          out.push({ body: item, origin: itemOrigin });
        });
        continue;
      }
      out.push({ body, origin });
    }
  }
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
