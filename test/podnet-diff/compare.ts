/**
 * Field-by-field comparison of two captures (real kernel vs emulator), interface by interface and
 * frame by frame, on the fields neither side randomises (netmodel/pcap comparableFields).
 */
import { comparableFields, type DecodedFrame, type FieldValue } from '../../netmodel/pcap/index.js';

export interface CompareOptions {
  /** Only these interfaces; default every interface either side captured. */
  readonly interfaces?: readonly string[];
  /** Fields to leave out besides the randomised ones (e.g. `tcp.window_size_value`). */
  readonly ignore?: (field: string) => boolean;
  /** Frames to leave out on both sides before pairing (e.g. ARP when one side resolved it beforehand). */
  readonly keep?: (frame: DecodedFrame) => boolean;
}

/** One line per difference: `IFACE #N FIELD: real X, emulated Y`; empty when the captures agree. */
export function compareCaptures(
  real: Record<string, readonly DecodedFrame[]>,
  emulated: Record<string, readonly DecodedFrame[]>,
  opts: CompareOptions = {},
): string[] {
  const out: string[] = [];
  const names = opts.interfaces ?? [...new Set([...Object.keys(real), ...Object.keys(emulated)])].sort();
  const keep = opts.keep ?? (() => true);
  const show = (v: FieldValue | undefined) => (v === undefined ? '(absent)' : JSON.stringify(v));
  for (const name of names) {
    const r = (real[name] ?? []).filter(keep);
    const e = (emulated[name] ?? []).filter(keep);
    if (r.length !== e.length) out.push(`${name}: real has ${r.length} frames, emulated ${e.length}`);
    for (let i = 0; i < Math.min(r.length, e.length); i++) {
      const a = comparableFields(r[i]!);
      const b = comparableFields(e[i]!);
      for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        if (opts.ignore?.(k)) continue;
        if (a[k] !== b[k]) out.push(`${name} #${i + 1} ${k}: real ${show(a[k])}, emulated ${show(b[k])}`);
      }
    }
  }
  return out;
}

/** Frames other than ARP. */
export function notArp(f: DecodedFrame): boolean {
  return f.arp === undefined;
}

/**
 * The frames a test sent: not ARP, and not the host's own background traffic that a capture may
 * catch while interfaces come up (IGMP membership reports, protocol 2, sent to multicast groups).
 */
export function sentTraffic(f: DecodedFrame): boolean {
  return notArp(f) && f.ipv4?.protocol !== 2 && !f.ipv4?.dst.startsWith('224.');
}
