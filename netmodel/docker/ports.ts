/**
 * `docker run -p` arguments, parsed as go-connections nat.ParsePortSpec does:
 *   [ip:[hostPort]:]containerPort[/proto]   ports and ranges (8000-8010), IPv6 host IPs in brackets,
 *   proto tcp (default), udp or sctp. A host range must be as long as the container range, unless the
 *   container side is one port (docker then takes the first free port of the host range).
 * Returns the spec or a message saying what is wrong.
 */
import { tryParseIP } from '../addr.js';
import type { PortProto, PortSpec } from './host.js';

const PROTOS: readonly PortProto[] = ['tcp', 'udp', 'sctp'];

function parseRange(text: string, what: string): { start: number; end: number } | string {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) return `invalid ${what} "${text}" (a number 1-65535 or a range like 8000-8010)`;
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  if (start < 1 || start > 65535 || end < 1 || end > 65535)
    return `invalid ${what} "${text}": ports are 1-65535`;
  if (end < start) return `invalid ${what} "${text}": the range ends before it starts`;
  return { start, end };
}

export function parsePortSpec(text: string): PortSpec | string {
  let rest = text;
  let proto: PortProto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (!(PROTOS as readonly string[]).includes(p))
      return `invalid proto "${rest.slice(slash + 1)}" in "${text}" (tcp, udp or sctp)`;
    proto = p as PortProto;
    rest = rest.slice(0, slash);
  }
  let hostIP = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':')
      return `invalid IPv6 host address in "${text}" (e.g. [::1]:8080:80)`;
    hostIP = rest.slice(1, close);
    rest = rest.slice(close + 2);
    if (!rest.includes(':'))
      return `"${text}" names a host IP but no host port field (ip:hostPort:containerPort)`;
  }
  const parts = rest.split(':');
  let hostText = '';
  let ctrText: string;
  if (hostIP) {
    if (parts.length !== 2) return `invalid port spec "${text}"`;
    [hostText, ctrText] = parts as [string, string];
  } else if (parts.length === 1) ctrText = parts[0]!;
  else if (parts.length === 2) [hostText, ctrText] = parts as [string, string];
  else if (parts.length === 3) [hostIP, hostText, ctrText] = parts as [string, string, string];
  else return `invalid port spec "${text}": too many colons (ip:hostPort:containerPort[/proto])`;
  if (hostIP) {
    const ip = tryParseIP(hostIP);
    if (!ip) return `invalid host IP "${hostIP}" in "${text}"`;
    hostIP = ip.text;
  }
  if (ctrText === '') return `no container port in "${text}"`;
  const ctr = parseRange(ctrText, 'containerPort');
  if (typeof ctr === 'string') return ctr;
  let hostPorts: { start: number; end: number } | undefined;
  if (hostText !== '') {
    const h = parseRange(hostText, 'hostPort');
    if (typeof h === 'string') return h;
    if (h.end - h.start !== ctr.end - ctr.start && ctr.end !== ctr.start)
      return `invalid ranges in "${text}": host and container port ranges differ in length`;
    hostPorts = h;
  }
  return {
    text,
    hostIP,
    ...(hostPorts ? { hostPorts } : {}),
    containerPorts: ctr,
    proto,
  };
}
