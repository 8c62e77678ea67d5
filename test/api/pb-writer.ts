/**
 * A protobuf writer by field number, for tests that hand-encode Kubernetes objects (k8s.io/api
 * generated.proto, apimachinery's runtime.Unknown envelope).
 */

export function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
export const key = (num: number, wire: number) => varint(num * 8 + wire);
/** A length-delimited field: a string, bytes, or an embedded message's encoding. */
export const bytes = (num: number, b: string | Buffer): Buffer => {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.from([...key(num, 2), ...varint(buf.length), ...buf]);
};
export const msg = (num: number, ...parts: Buffer[]) => bytes(num, Buffer.concat(parts));
export const int = (num: number, n: number | bigint) => Buffer.from([...key(num, 0), ...varint(n)]);
export const bool = (num: number, b: boolean) => int(num, b ? 1 : 0);
/** A map entry (key = 1, value = 2). */
export const entry = (num: number, k: string, v: Buffer) => msg(num, bytes(1, k), v);
export const strEntry = (num: number, k: string, v: string) => entry(num, k, bytes(2, v));
/** intstr.IntOrString: type = 1 (0 int, 1 string), intVal = 2, strVal = 3. */
export const intOrStr = (num: number, v: number | string) =>
  typeof v === 'number' ? msg(num, int(1, 0), int(2, v)) : msg(num, int(1, 1), bytes(3, v));
/** resource.Quantity: string = 1. */
export const qty = (num: number, s: string) => msg(num, bytes(1, s));
/** meta/v1 Time: seconds = 1, nanos = 2. */
export const time = (num: number, seconds: number, nanos = 0) =>
  msg(num, int(1, seconds), ...(nanos ? [int(2, nanos)] : []));

export const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
/** runtime.Unknown: typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2. */
export function envelope(apiVersion: string, kind: string, ...raw: Buffer[]): Buffer {
  return Buffer.concat([MAGIC, msg(1, bytes(1, apiVersion), bytes(2, kind)), bytes(2, Buffer.concat(raw))]);
}
