/**
 * `ip route show` and `ip -br addr` text, as iproute2 6.x prints them (IPv4 route lines end with a
 * space, IPv6 ones with `pref medium`).
 */
import type { Interface } from './interfaces.js';
import type { Route } from './route.js';

function dstText(r: Route): string {
  if (r.dst.bits === 0) return 'default';
  const host = r.dst.bits === (r.dst.ip.family === 4 ? 32 : 128);
  return host ? r.dst.ip.text : r.dst.text;
}

/** One `ip route show` line (no newline). */
export function formatRoute(r: Route): string {
  const t: string[] = [];
  if (r.type !== 'unicast') t.push(r.type);
  t.push(dstText(r));
  if (r.via) t.push(`via ${r.via.text}`);
  if (r.dev !== undefined) t.push(`dev ${r.dev}`);
  if (r.proto !== 'boot') t.push(`proto ${r.proto}`);
  if (r.dst.ip.family === 4) {
    if (r.scope !== 'global') t.push(`scope ${r.scope}`);
    if (r.src) t.push(`src ${r.src.text}`);
    if (r.metric !== 0) t.push(`metric ${r.metric}`);
    if (r.onlink) t.push('onlink');
    return `${t.join(' ')} `;
  }
  if (r.src) t.push(`src ${r.src.text}`);
  t.push(`metric ${r.metric}`);
  t.push('pref medium');
  return t.join(' ');
}

/** `ip route show` output for a list of routes, one per line with a trailing newline. */
export function formatRoutes(routes: readonly Route[]): string {
  return routes.map((r) => `${formatRoute(r)}\n`).join('');
}

function operState(i: Interface): string {
  if (!i.up) return 'DOWN';
  return i.kind === 'loopback' || i.kind === 'dummy' ? 'UNKNOWN' : 'UP';
}

/** `ip -br addr`: name (`name@peer` for a veth), state, then every address, IPv4 first. */
export function formatAddrBrief(ifs: readonly Interface[]): string {
  return ifs
    .map((i) => {
      const name = i.peer !== undefined ? `${i.name}@${i.peer}` : i.name;
      const addrs = [
        ...i.addresses.filter((a) => a.ip.family === 4),
        ...i.addresses.filter((a) => a.ip.family === 6),
      ]
        .map((a) => `${a.ip.text}/${a.prefixLen} `)
        .join('');
      return `${name.padEnd(16)} ${operState(i).padEnd(14)} ${addrs}\n`;
    })
    .join('');
}
