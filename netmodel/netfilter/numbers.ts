/** Number and range parsing shared by the rule parser (iptables' strtoul-style values). */
import type { PortRange } from './match.js';

/** strtoul(s, 0): 0x.. hex, 0.. octal, else decimal. undefined if not a valid uint32. */
export function parseUint(s: string, max = 0xffffffff): number | undefined {
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) n = Number.parseInt(s.slice(2), 16);
  else if (/^0[0-7]*$/.test(s)) n = Number.parseInt(s, 8);
  else if (/^[1-9][0-9]*$/.test(s)) n = Number(s);
  else return undefined;
  return n <= max ? n : undefined;
}

/** `value[/mask]`; mask defaults to all ones. */
export function parseMarkMask(s: string): { value: number; mask: number; hasMask: boolean } | undefined {
  const slash = s.indexOf('/');
  const v = parseUint(slash < 0 ? s : s.slice(0, slash));
  if (v === undefined) return undefined;
  if (slash < 0) return { value: v, mask: 0xffffffff, hasMask: false };
  const m = parseUint(s.slice(slash + 1));
  if (m === undefined) return undefined;
  return { value: v, mask: m, hasMask: true };
}

export function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/** `a`, `a:b`, `a:` (to 65535), `:b` (from 0). */
export function parsePortRange(s: string, sep = ':'): PortRange | undefined {
  const i = s.indexOf(sep);
  if (i < 0) {
    const p = parsePort(s);
    return p === undefined ? undefined : { lo: p, hi: p };
  }
  const a = s.slice(0, i);
  const b = s.slice(i + 1);
  const lo = a === '' ? 0 : parsePort(a);
  const hi = b === '' ? 65535 : parsePort(b);
  if (lo === undefined || hi === undefined || lo > hi) return undefined;
  return { lo, hi };
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

export function portRangeText(r: PortRange, sep = ':'): string {
  return r.lo === r.hi ? String(r.lo) : `${r.lo}${sep}${r.hi}`;
}
