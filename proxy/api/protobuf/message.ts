/**
 * One Kubernetes struct from protobuf to JSON, as the apiserver sees it: the generated Unmarshal
 * fills a Go struct (fields it does not know skipped, a message seen twice merged into the first),
 * and the struct is what the JSON body of the same request would have decoded to. So the result is
 * what encoding/json writes for that struct: every field in declaration order, a non-pointer field
 * the body left out at its zero value ("" 0 false {}; a zero Time is null), nil pointers, slices and
 * maps as null, and omitempty dropping zero scalars and empty slices and maps (never a struct).
 */
import { MESSAGES } from './schema.js';
import { Reader, WIRE, WireError } from './wire.js';

type Shape = 'one' | 'ptr' | 'list' | 'map';

interface Field {
  readonly num: number;
  /** The JSON name; '' for an inlined embedded struct. */
  readonly json: string;
  /** The Go field name for error messages, as the generated code names it. */
  readonly go: string;
  readonly shape: Shape;
  /** Element type: a scalar, a special, or a message of MESSAGES. */
  readonly elem: string;
  readonly omit: boolean;
}

interface Message {
  readonly name: string;
  readonly fields: readonly Field[];
  readonly byNum: ReadonlyMap<number, Field>;
}

/** A decoded struct: field number -> value (scalars and specials as JSON values, structs as State). */
type State = Map<number, unknown>;

const VARINT = new Set(['int32', 'int64', 'uint32', 'uint64', 'bool']);
const SPECIAL = new Set(['Time', 'MicroTime', 'IntOrString', 'Quantity', 'FieldsV1']);

function parseField(line: string, msg: string): Field {
  const [num, json, type, flag] = line.split(' ');
  let t = type!;
  let shape: Shape = 'one';
  if (t.startsWith('*')) {
    shape = 'ptr';
    t = t.slice(1);
  } else if (t.startsWith('[]')) {
    shape = 'list';
    t = t.slice(2);
  } else if (t.startsWith('map[string]')) {
    shape = 'map';
    t = t.slice('map[string]'.length);
  }
  if (!VARINT.has(t) && !SPECIAL.has(t) && t !== 'string' && t !== 'bytes' && !(t in MESSAGES))
    throw new Error(`protobuf schema: ${msg} field ${num}: unknown type ${type}`);
  const inline = json === '.';
  const name = inline ? '' : json!;
  return {
    num: Number(num),
    json: name,
    go: inline ? t.replace(/^.*\./, '') : name.charAt(0).toUpperCase() + name.slice(1),
    shape,
    elem: t,
    omit: flag === 'o',
  };
}

const CACHE = new Map<string, Message>();

function message(name: string): Message {
  let m = CACHE.get(name);
  if (!m) {
    const lines = MESSAGES[name];
    if (!lines) throw new Error(`protobuf schema: no message ${name}`);
    const fields = lines.map((l) => parseField(l, name));
    m = { name, fields, byNum: new Map(fields.map((f) => [f.num, f])) };
    CACHE.set(name, m);
  }
  return m;
}

export function hasMessage(name: string): boolean {
  return name in MESSAGES;
}

function wireOf(elem: string): number {
  if (VARINT.has(elem)) return WIRE.varint;
  return WIRE.bytes;
}

function varintValue(elem: string, v: bigint): unknown {
  switch (elem) {
    case 'int32':
      return Number(BigInt.asIntN(32, v));
    case 'int64':
      return Number(BigInt.asIntN(64, v));
    case 'uint32':
      return Number(BigInt.asUintN(32, v));
    case 'uint64':
      return Number(v);
    default:
      return v !== 0n;
  }
}

/** The fields of apimachinery's own messages: v varint, s string, b bytes. */
const SPECIAL_FIELDS: Record<string, Record<number, 'v' | 's' | 'b'>> = {
  Time: { 1: 'v', 2: 'v' },
  MicroTime: { 1: 'v', 2: 'v' },
  IntOrString: { 1: 'v', 2: 'v', 3: 's' },
  Quantity: { 1: 's' },
  FieldsV1: { 1: 'b' },
};

/** The sub-message fields of Time/MicroTime (seconds=1, nanos=2), IntOrString, Quantity, FieldsV1. */
function readSpecial(elem: string, r: Reader, start: number, end: number): unknown {
  const sub = new Reader(r.buf, start, end);
  const vals = new Map<number, bigint | string | Uint8Array>();
  const want = SPECIAL_FIELDS[elem]!;
  while (!sub.done) {
    const { num, wire } = sub.tag(elem === 'Time' || elem === 'MicroTime' ? 'Timestamp' : elem);
    const k = want[num];
    if (!k) {
      sub.skip(wire);
      continue;
    }
    const expect = k === 'v' ? WIRE.varint : WIRE.bytes;
    if (wire !== expect)
      throw new WireError(`proto: wrong wireType = ${wire} for field ${specialField(elem, num)}`);
    if (k === 'v') vals.set(num, sub.varint());
    else {
      const [s, e] = sub.span();
      vals.set(
        num,
        k === 's'
          ? Buffer.from(r.buf.buffer, r.buf.byteOffset + s, e - s).toString('utf8')
          : r.buf.subarray(s, e),
      );
    }
  }
  switch (elem) {
    case 'Time':
    case 'MicroTime': {
      if (start === end) return null;
      const secs = Number(BigInt.asIntN(64, (vals.get(1) as bigint | undefined) ?? 0n));
      const nanos = Number(BigInt.asIntN(32, (vals.get(2) as bigint | undefined) ?? 0n));
      return formatTime(secs, elem === 'MicroTime' ? nanos : 0, elem === 'MicroTime');
    }
    case 'IntOrString':
      return ((vals.get(1) as bigint | undefined) ?? 0n) === 1n
        ? ((vals.get(3) as string | undefined) ?? '')
        : Number(BigInt.asIntN(32, (vals.get(2) as bigint | undefined) ?? 0n));
    case 'Quantity':
      return (vals.get(1) as string | undefined) ?? '0';
    default: {
      const raw = vals.get(1) as Uint8Array | undefined;
      if (!raw || raw.length === 0) return null;
      try {
        return JSON.parse(Buffer.from(raw).toString('utf8'));
      } catch {
        throw new WireError('FieldsV1: raw is not JSON');
      }
    }
  }
}

function specialField(elem: string, num: number): string {
  const names: Record<string, string[]> = {
    Time: ['', 'Seconds', 'Nanos'],
    MicroTime: ['', 'Seconds', 'Nanos'],
    IntOrString: ['', 'Type', 'IntVal', 'StrVal'],
    Quantity: ['', 'String_'],
    FieldsV1: ['', 'Raw'],
  };
  return names[elem]?.[num] ?? String(num);
}

/** Go's zero time.Time is 0001-01-01T00:00:00Z: a Time holding it writes null. */
const ZERO_TIME_S = -62135596800;

function formatTime(secs: number, nanos: number, micro: boolean): string | null {
  if (secs === ZERO_TIME_S && nanos === 0) return null;
  const micros = Math.floor(Math.max(0, nanos) / 1000);
  const d = new Date(secs * 1000 + Math.floor(micros / 1000));
  const base = d.toISOString().slice(0, 19);
  if (!micro) return `${base}Z`;
  return `${base}.${String(micros).padStart(6, '0').slice(-6)}Z`;
}

function readElem(elem: string, r: Reader, into: unknown): unknown {
  if (VARINT.has(elem)) return varintValue(elem, r.varint());
  const [s, e] = r.span();
  if (elem === 'string') return Buffer.from(r.buf.buffer, r.buf.byteOffset + s, e - s).toString('utf8');
  if (elem === 'bytes') return Buffer.from(r.buf.subarray(s, e)).toString('base64');
  if (SPECIAL.has(elem)) return readSpecial(elem, r, s, e);
  return decodeInto(elem, new Reader(r.buf, s, e), into instanceof Map ? (into as State) : new Map());
}

function decodeInto(name: string, r: Reader, state: State): State {
  const m = message(name);
  const short = name.replace(/^.*\./, '');
  while (!r.done) {
    const { num, wire } = r.tag(short);
    const f = m.byNum.get(num);
    if (!f) {
      r.skip(wire);
      continue;
    }
    if (f.shape === 'list' && VARINT.has(f.elem) && wire === WIRE.bytes) {
      // a packed repeated scalar
      const [s, e] = r.span();
      const sub = new Reader(r.buf, s, e);
      const list = (state.get(num) as unknown[] | undefined) ?? [];
      while (!sub.done) list.push(varintValue(f.elem, sub.varint()));
      state.set(num, list);
      continue;
    }
    const expect = f.shape === 'map' ? WIRE.bytes : wireOf(f.elem);
    if (wire !== expect) throw new WireError(`proto: wrong wireType = ${wire} for field ${f.go}`);
    switch (f.shape) {
      case 'one':
      case 'ptr':
        state.set(num, readElem(f.elem, r, state.get(num)));
        break;
      case 'list': {
        const list = (state.get(num) as unknown[] | undefined) ?? [];
        list.push(readElem(f.elem, r, undefined));
        state.set(num, list);
        break;
      }
      case 'map': {
        const [s, e] = r.span();
        const entry = new Reader(r.buf, s, e);
        let key = '';
        let value: unknown;
        while (!entry.done) {
          const t = entry.tag(short);
          if (t.num === 1 && t.wire === WIRE.bytes) {
            const [ks, ke] = entry.span();
            key = Buffer.from(r.buf.buffer, r.buf.byteOffset + ks, ke - ks).toString('utf8');
          } else if (t.num === 2 && t.wire === wireOf(f.elem)) value = readElem(f.elem, entry, undefined);
          else entry.skip(t.wire);
        }
        const map = (state.get(num) as Map<string, unknown> | undefined) ?? new Map<string, unknown>();
        map.set(key, value === undefined ? zeroElem(f.elem) : value);
        state.set(num, map);
        break;
      }
    }
  }
  return state;
}

/** What a non-pointer field the body left out holds, as JSON. */
function zeroElem(elem: string): unknown {
  switch (elem) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'bytes':
      return null;
    case 'Time':
    case 'MicroTime':
    case 'FieldsV1':
      return null;
    case 'Quantity':
      return '0';
    case 'IntOrString':
      return 0;
    default:
      if (VARINT.has(elem)) return 0;
      return new Map();
  }
}

function isEmpty(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === null;
}

function jsonValue(elem: string, v: unknown): unknown {
  return v instanceof Map && hasMessage(elem) ? toJson(elem, v as State) : v;
}

function toJson(name: string, state: State): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of message(name).fields) {
    const v = state.get(f.num);
    if (!f.json) {
      Object.assign(out, toJson(f.elem, (v as State | undefined) ?? new Map()));
      continue;
    }
    if (v === undefined) {
      if (f.shape === 'one') {
        const z = zeroElem(f.elem);
        if (f.omit && isEmpty(z) && !hasMessage(f.elem) && !SPECIAL.has(f.elem)) continue;
        out[f.json] = jsonValue(f.elem, z);
      } else if (!f.omit) out[f.json] = null;
      continue;
    }
    switch (f.shape) {
      case 'one':
        // omitempty drops zero scalars and nil []byte, never a struct (Time, Quantity... included)
        if (
          f.omit &&
          !hasMessage(f.elem) &&
          !SPECIAL.has(f.elem) &&
          (isEmpty(v) || (f.elem === 'bytes' && v === ''))
        )
          continue;
        out[f.json] = jsonValue(f.elem, v);
        break;
      case 'ptr':
        out[f.json] = jsonValue(f.elem, v);
        break;
      case 'list':
        out[f.json] = (v as unknown[]).map((x) => jsonValue(f.elem, x));
        break;
      case 'map':
        out[f.json] = Object.fromEntries(
          [...(v as Map<string, unknown>)].map(([k, x]) => [k, jsonValue(f.elem, x)]),
        );
        break;
    }
  }
  return out;
}

/** Decode `buf[start, end)` as the message `name` (a key of MESSAGES) into its JSON object. */
export function decodeMessage(
  name: string,
  buf: Buffer,
  start = 0,
  end = buf.length,
): Record<string, unknown> {
  return toJson(name, decodeInto(name, new Reader(buf, start, end), new Map()));
}
