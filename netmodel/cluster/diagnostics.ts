/**
 * Diagnostics about manifests: where (file:line:column), which object, which field, what was expected.
 * Validation collects all of them; nothing is thrown per field.
 */
export type FieldPath = readonly (string | number)[];

export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** Where an object came from, able to point at any of its fields. */
export interface Origin {
  readonly file: string;
  /** Position of the field at `path` (relative to the object), or of its nearest existing parent. */
  locate(path: FieldPath): SourcePos;
  /** Position of the key of the field at `path` (where an unknown field is named), else as locate. */
  locateKey?(path: FieldPath): SourcePos;
}

export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly pos?: SourcePos;
  readonly object?: ObjectRef;
  /** Field path in kubectl's notation, e.g. `spec.ports[1].port`. */
  readonly field?: string;
  readonly message: string;
}

export function formatPath(path: FieldPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out;
}

export function formatObjectRef(o: ObjectRef): string {
  return o.namespace ? `${o.kind} ${o.namespace}/${o.name}` : `${o.kind} ${o.name}`;
}

/** `file:3:7: error: Service default/web: spec.ports[0].port: must be ...`. */
export function formatDiagnostic(d: Diagnostic): string {
  const parts: string[] = [];
  if (d.pos) parts.push(`${d.pos.file}:${d.pos.line}:${d.pos.col}`);
  parts.push(d.severity);
  if (d.object) parts.push(formatObjectRef(d.object));
  if (d.field) parts.push(d.field);
  parts.push(d.message);
  return parts.join(': ');
}

/** Collects diagnostics for one object, positioning each by its field path. */
export class Reporter {
  readonly out: Diagnostic[];
  constructor(out: Diagnostic[] = []) {
    this.out = out;
  }
  error(origin: Origin | undefined, object: ObjectRef | undefined, path: FieldPath, message: string): void {
    this.add('error', origin, object, path, message);
  }
  warning(origin: Origin | undefined, object: ObjectRef | undefined, path: FieldPath, message: string): void {
    this.add('warning', origin, object, path, message);
  }
  /** An error about the field's name rather than its value (an unknown field): positioned at the key. */
  keyError(
    origin: Origin | undefined,
    object: ObjectRef | undefined,
    path: FieldPath,
    message: string,
  ): void {
    this.add('error', origin, object, path, message, true);
  }
  private add(
    severity: 'error' | 'warning',
    origin: Origin | undefined,
    object: ObjectRef | undefined,
    path: FieldPath,
    message: string,
    atKey = false,
  ): void {
    const pos = origin
      ? atKey && origin.locateKey
        ? origin.locateKey(path)
        : origin.locate(path)
      : undefined;
    this.out.push({
      severity,
      ...(pos ? { pos } : {}),
      ...(object ? { object } : {}),
      ...(path.length ? { field: formatPath(path) } : {}),
      message,
    });
  }
  get errorCount(): number {
    return this.out.filter((d) => d.severity === 'error').length;
  }
}
