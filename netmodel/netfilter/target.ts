/** Targets as typed data (`-j NAME ...` / `-g CHAIN`). */
import type { IP } from '../addr.js';
import { v4, v6 } from '../addr.js';
import type { Rng } from '../rng.js';
import type { NatRequest } from './context.js';

export const REJECT_WITH_V4 = [
  'icmp-net-unreachable',
  'icmp-host-unreachable',
  'icmp-port-unreachable',
  'icmp-proto-unreachable',
  'icmp-net-prohibited',
  'icmp-host-prohibited',
  'tcp-reset',
  'icmp-admin-prohibited',
] as const;
export const REJECT_WITH_V6 = [
  'icmp6-no-route',
  'icmp6-adm-prohibited',
  'icmp6-addr-unreachable',
  'icmp6-port-unreachable',
  'tcp-reset',
  'icmp6-policy-fail',
  'icmp6-reject-route',
] as const;
export type RejectWith = (typeof REJECT_WITH_V4)[number] | (typeof REJECT_WITH_V6)[number];

/** LOG option flags as the kernel numbers them (NF_LOG_*). */
export const LogFlag = {
  TCPSEQ: 0x01,
  TCPOPT: 0x02,
  IPOPT: 0x04,
  UID: 0x08,
  MACDECODE: 0x20,
} as const;

/** An address and/or port range of a NAT target. Absent parts are left unchanged. */
export interface NatRange {
  readonly minIp?: IP;
  readonly maxIp?: IP;
  readonly minPort?: number;
  readonly maxPort?: number;
}

export type Target =
  | { readonly kind: 'ACCEPT' }
  | { readonly kind: 'DROP' }
  | { readonly kind: 'RETURN' }
  | { readonly kind: 'jump'; readonly chain: string }
  | { readonly kind: 'goto'; readonly chain: string }
  | { readonly kind: 'REJECT'; readonly with: RejectWith }
  | { readonly kind: 'LOG'; readonly prefix?: string; readonly level: number; readonly flags: number }
  /** MARK in the kernel's form: mark = (mark & ~mask) ^ value. */
  | { readonly kind: 'MARK'; readonly value: number; readonly mask: number }
  | { readonly kind: 'CONNMARK'; readonly mode: 'set'; readonly value: number; readonly mask: number }
  | {
      readonly kind: 'CONNMARK';
      readonly mode: 'save' | 'restore';
      readonly nfmask: number;
      readonly ctmask: number;
    }
  | {
      readonly kind: 'DNAT' | 'SNAT';
      readonly range: NatRange;
      readonly random: boolean;
      readonly randomFully: boolean;
      readonly persistent: boolean;
    }
  | {
      readonly kind: 'MASQUERADE';
      readonly minPort?: number;
      readonly maxPort?: number;
      readonly random: boolean;
      readonly randomFully: boolean;
    }
  | {
      readonly kind: 'REDIRECT';
      readonly minPort?: number;
      readonly maxPort?: number;
      readonly random: boolean;
    }
  | { readonly kind: 'NOTRACK' }
  /** `-j CHECKSUM --checksum-fill` (mangle): fills in the checksum; the model's checksums are always right. */
  | { readonly kind: 'CHECKSUM' }
  /** `-j CT --notrack` (the only CT form modelled). */
  | { readonly kind: 'CT'; readonly notrack: true };

export type TargetKind = Target['kind'];

/** The kernel's MARK arithmetic: (mark & ~mask) ^ value, as uint32. */
export function xmark(mark: number, value: number, mask: number): number {
  return ((mark & ~mask) ^ value) >>> 0;
}

function pick(rng: Rng, lo: number, hi: number): number {
  return hi > lo ? lo + (rng.uint32() % (hi - lo + 1)) : lo;
}

function pickIp(rng: Rng, lo: IP | undefined, hi: IP | undefined): IP | undefined {
  if (!lo || !hi || lo.text === hi.text) return lo;
  if (lo.family === 4 && hi.family === 4) return v4(pick(rng, lo.n, hi.n));
  if (lo.family === 6 && hi.family === 6) {
    // IPv6 ranges wider than 2^32 addresses are sampled in their first 2^32 only.
    const span = hi.big - lo.big;
    return v6(lo.big + (span >= 0xffffffffn ? BigInt(rng.uint32()) : BigInt(rng.uint32()) % (span + 1n)));
  }
  return lo;
}

/**
 * The NAT decision of a DNAT/SNAT/MASQUERADE/REDIRECT target: addresses and ports from ranges chosen
 * from the Rng (address first, then port; nothing drawn for a single value). undefined for other targets.
 */
/** `{ portRange }` for a range of more than one port, else nothing. */
function portRangeOf(min: number | undefined, max: number | undefined): { portRange?: [number, number] } {
  if (min === undefined || max === undefined || max === min) return {};
  return { portRange: min < max ? [min, max] : [max, min] };
}

export function natRequest(t: Target, rng: Rng): NatRequest | undefined {
  switch (t.kind) {
    case 'DNAT':
    case 'SNAT': {
      const r0 = t.range;
      const ip = pickIp(rng, r0.minIp, r0.maxIp);
      const port = r0.minPort === undefined ? undefined : pick(rng, r0.minPort, r0.maxPort ?? r0.minPort);
      return {
        kind: t.kind,
        ...(ip ? { ip } : {}),
        ...(port !== undefined ? { port } : {}),
        ...portRangeOf(r0.minPort, r0.maxPort),
        random: t.random,
        randomFully: t.randomFully,
        persistent: t.persistent,
      };
    }
    case 'MASQUERADE': {
      const port = t.minPort === undefined ? undefined : pick(rng, t.minPort, t.maxPort ?? t.minPort);
      return {
        kind: 'MASQUERADE',
        ...(port !== undefined ? { port } : {}),
        ...portRangeOf(t.minPort, t.maxPort),
        random: t.random,
        randomFully: t.randomFully,
      };
    }
    case 'REDIRECT': {
      const port = t.minPort === undefined ? undefined : pick(rng, t.minPort, t.maxPort ?? t.minPort);
      return {
        kind: 'REDIRECT',
        ...(port !== undefined ? { port } : {}),
        ...portRangeOf(t.minPort, t.maxPort),
        random: t.random,
      };
    }
    default:
      return undefined;
  }
}
