/**
 * A node's network interfaces as `ip link` / `ip addr` know them: name, kind, MTU, up/down and the
 * addresses with their prefix length and scope. The first address of a subnet on a device is its
 * primary; later ones in the same subnet are secondaries (IFA_F_SECONDARY), as in the kernel.
 */
import type { IP, Prefix } from '../addr.js';
import { prefixContains, prefixLast, prefixOf } from '../addr.js';

export type LinkKind = 'loopback' | 'ethernet' | 'veth' | 'bridge' | 'vxlan' | 'dummy' | 'other';

/** RT_SCOPE_*: universe (global) 0, site 200, link 253, host 254, nowhere 255. */
export type Scope = 'global' | 'site' | 'link' | 'host' | 'nowhere';

export const SCOPE_NUMBER: Readonly<Record<Scope, number>> = {
  global: 0,
  site: 200,
  link: 253,
  host: 254,
  nowhere: 255,
};

export interface IfAddress {
  readonly ip: IP;
  readonly prefixLen: number;
  readonly scope: Scope;
  /** IFA_F_SECONDARY: another address of the same subnet came first. */
  readonly secondary: boolean;
  /** The subnet, host bits cleared. */
  readonly subnet: Prefix;
  /** IPv4 broadcast (the subnet's last address) for prefixes shorter than /31. */
  readonly broadcast: IP | undefined;
}

export interface Interface {
  readonly name: string;
  readonly index: number;
  readonly kind: LinkKind;
  readonly mtu: number;
  readonly up: boolean;
  readonly addresses: readonly IfAddress[];
  /** A veth's peer (printed `name@peer` by `ip -br addr`). */
  readonly peer?: string;
  /** A bridge port's master. */
  readonly master?: string;
}

/** The default scope the kernel gives an address: host for 127/8 and ::1, link for fe80::/10. */
export function defaultScope(ip: IP): Scope {
  if (ip.family === 4) return ip.n >>> 24 === 127 ? 'host' : 'global';
  if (ip.big === 1n) return 'host';
  if (ip.big >> 118n === 0x3fan) return 'link';
  return 'global';
}

export function makeAddress(
  ip: IP,
  prefixLen: number,
  existing: readonly IfAddress[],
  scope?: Scope,
): IfAddress {
  const subnet = prefixOf(ip, prefixLen);
  const secondary = existing.some(
    (a) => a.ip.family === ip.family && a.prefixLen === prefixLen && prefixContains(a.subnet, ip),
  );
  const broadcast = ip.family === 4 && prefixLen < 31 ? prefixLast(subnet) : undefined;
  return { ip, prefixLen, scope: scope ?? defaultScope(ip), secondary, subnet, broadcast };
}
