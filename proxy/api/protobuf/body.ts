/**
 * A request body in Kubernetes' protobuf encoding (application/vnd.kubernetes.protobuf), decoded as
 * the apiserver's protobuf serializer (k8s.io/apimachinery pkg/runtime/serializer/protobuf) and
 * create/update handlers (k8s.io/apiserver pkg/endpoints/handlers) do:
 *
 *   "k8s\0" magic -> runtime.Unknown { 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
 *   4 contentType } -> kind and version default to the URL's when the body leaves them out -> raw
 *   decoded as that kind's struct (schema.ts) -> the JSON object the same request in JSON gives.
 *
 * Errors are the apiserver's 400s: a body it cannot read is "the object provided is unrecognized
 * (must be of type Service): <why> (<the first 30 bytes in hex>)"; a body of another kind is
 * "Pod in version \"v1\" cannot be handled as a Service: <why>".
 */
import { errors } from '../status.js';
import { decodeMessage, hasMessage } from './message.js';
import { Reader, WIRE, WireError } from './wire.js';

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** The kinds a body may hold: apiVersion/kind -> struct of schema.ts. */
const KINDS: Readonly<Record<string, string>> = (() => {
  const out: Record<string, string> = {};
  const add = (apiVersion: string, pkg: string, kinds: string[]) => {
    for (const k of kinds) {
      out[`${apiVersion}/${k}`] = `${pkg}.${k}`;
      out[`${apiVersion}/${k}List`] = `${pkg}.${k}List`;
    }
  };
  add('v1', 'core', ['Namespace', 'Node', 'Pod', 'Service', 'Endpoints', 'ConfigMap', 'Event']);
  add('apps/v1', 'apps', ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet']);
  add('discovery.k8s.io/v1', 'discovery', ['EndpointSlice']);
  add('networking.k8s.io/v1', 'networking', ['NetworkPolicy']);
  out['autoscaling/v1/Scale'] = 'autoscaling.Scale';
  out['v1/Status'] = 'meta.Status';
  for (const v of [
    'v1',
    'meta.k8s.io/v1',
    'apps/v1',
    'discovery.k8s.io/v1',
    'networking.k8s.io/v1',
    'autoscaling/v1',
  ])
    out[`${v}/DeleteOptions`] = 'meta.DeleteOptions';
  for (const m of Object.values(out)) if (!hasMessage(m)) throw new Error(`protobuf schema: no message ${m}`);
  return out;
})();

/** What the URL expects: the resource's group, version and kind. */
export interface Expected {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

interface Unknown {
  apiVersion: string;
  kind: string;
  raw: [number, number];
}

function readUnknown(buf: Buffer): Unknown {
  const r = new Reader(buf, MAGIC.length);
  const u: Unknown = { apiVersion: '', kind: '', raw: [0, 0] };
  while (!r.done) {
    const { num, wire } = r.tag('Unknown');
    if (num >= 1 && num <= 4 && wire !== WIRE.bytes)
      throw new WireError(
        `proto: wrong wireType = ${wire} for field ${['', 'TypeMeta', 'Raw', 'ContentEncoding', 'ContentType'][num]}`,
      );
    if (num === 1) {
      const [s, e] = r.span();
      const t = new Reader(buf, s, e);
      while (!t.done) {
        const f = t.tag('TypeMeta');
        if ((f.num === 1 || f.num === 2) && f.wire !== WIRE.bytes)
          throw new WireError(
            `proto: wrong wireType = ${f.wire} for field ${f.num === 1 ? 'APIVersion' : 'Kind'}`,
          );
        if (f.num === 1) u.apiVersion = spanText(buf, t.span());
        else if (f.num === 2) u.kind = spanText(buf, t.span());
        else t.skip(f.wire);
      }
    } else if (num === 2) u.raw = r.span();
    else r.skip(wire);
  }
  return u;
}

function spanText(buf: Buffer, [s, e]: [number, number]): string {
  return buf.toString('utf8', s, e);
}

/** The apiserver's summarizeData: up to 30 bytes, as text when it looks like JSON, else hex. */
function summary(body: Buffer): string {
  if (body.length === 0) return '<empty>';
  const head = body.subarray(0, 30);
  const more = body.length > 30 ? ' ...' : '';
  return body[0] === 0x7b ? `${head.toString('utf8')}${more}` : `${head.toString('hex')}${more}`;
}

/** The Go package of the apiserver's internal type for a group (core.Service, apps.Deployment). */
function internalPackage(group: string): string {
  return group === '' ? 'core' : group.split('.')[0]!;
}

function splitApiVersion(av: string): { group: string; version: string } {
  const i = av.indexOf('/');
  return i < 0 ? { group: '', version: av } : { group: av.slice(0, i), version: av.slice(i + 1) };
}

/**
 * The JSON object a protobuf body holds, with apiVersion and kind set; throws the apiserver's
 * ApiError for a body it would refuse. `expect` is what the URL names (for DeleteOptions and Scale:
 * that kind in the request's group version).
 */
export function decodeProtobufBody(body: Buffer, expect: Expected): Record<string, unknown> {
  const unrecognized = (why: string) =>
    errors.badRequest(
      `the object provided is unrecognized (must be of type ${expect.kind}): ${why} (${summary(body)})`,
    );
  if (body.length === 0) throw unrecognized('empty data');
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC))
    throw unrecognized(
      `provided data does not appear to be a protobuf message, expected prefix [${[...MAGIC].join(' ')}]`,
    );
  if (body.length === MAGIC.length) throw unrecognized('empty body');
  let u: Unknown;
  try {
    u = readUnknown(body);
  } catch (e) {
    if (e instanceof WireError) throw unrecognized(e.message);
    throw e;
  }
  const { kind, apiVersion, version, msg } = bodyType(expect, u.apiVersion, u.kind);
  const cannot = (why: string) =>
    errors.badRequest(
      `${kind} in version ${JSON.stringify(version)} cannot be handled as a ${expect.kind}: ${why}`,
    );
  let obj: Record<string, unknown>;
  try {
    obj = decodeMessage(msg, body, u.raw[0], u.raw[1]);
  } catch (e) {
    if (e instanceof WireError) throw cannot(e.message);
    throw e;
  }
  return { kind, apiVersion, ...obj };
}

/**
 * The type a body names (apiVersion and kind as it wrote them, '' where it left them out) against the
 * one the URL expects, as the apiserver's decoder and create/update handlers judge it, whatever the
 * body's encoding: what the body leaves out the URL says (copyKindDefaults); a kind the scheme does
 * not know, or another kind, "cannot be handled as" the expected one (transformDecodeError); the
 * expected kind in another version is "the API version in the data ... does not match". Returns the
 * kind, its apiVersion and its struct in schema.ts.
 */
export function bodyType(
  expect: Expected,
  bodyApiVersion: string,
  bodyKind: string,
): { kind: string; apiVersion: string; version: string; msg: string } {
  let { group, version } = splitApiVersion(bodyApiVersion);
  const kind = bodyKind || expect.kind;
  if (!version) {
    group = expect.group;
    version = expect.version;
  }
  const apiVersion = group ? `${group}/${version}` : version;
  const cannot = (why: string) =>
    errors.badRequest(
      `${kind} in version ${JSON.stringify(version)} cannot be handled as a ${expect.kind}: ${why}`,
    );
  const msg = KINDS[`${apiVersion}/${kind}`];
  const served =
    msg !== undefined &&
    kind === expect.kind &&
    (kind === 'DeleteOptions' || (group === expect.group && version === expect.version));
  if (!served) {
    if (!msg && !(group === expect.group && kind === expect.kind))
      throw cannot(
        `no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)} in scheme "pkg/api/legacyscheme/scheme.go:30"`,
      );
    if (msg && kind !== expect.kind)
      throw cannot(
        `converting (${version}.${kind}) to (${internalPackage(expect.group)}.${expect.kind}): unknown conversion`,
      );
    throw errors.badRequest(
      `the API version in the data (${apiVersion}) does not match the expected API version (${expect.group ? `${expect.group}/` : ''}${expect.version})`,
    );
  }
  return { kind, apiVersion, version, msg: msg as string };
}

export function isProtobuf(contentType: string): boolean {
  return contentType === PROTOBUF;
}
