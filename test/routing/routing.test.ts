/**
 * Routing against `ip` output captured on Linux 6.18 / iproute2 6.1 (test/fixtures/routing/) in a
 * throwaway namespace with the same interfaces, addresses and routes as `captured()` builds.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { formatAddrBrief, formatRoutes, RoutingNode } from '../../netmodel/routing/index.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/routing/${name}`, import.meta.url), 'utf8');
const ip = parseIP;

function captured(): RoutingNode {
  const n = new RoutingNode({ ipForward: true });
  n.addInterface({ name: 'ct-r0', kind: 'veth', up: true, peer: 'if2' });
  n.addInterface({ name: 'ct-r1', kind: 'veth', up: true, peer: 'if2' });
  n.addAddress('ct-r0', '10.244.0.1/24');
  n.addAddress('ct-r0', 'fd00:244::1/64');
  n.addAddress('ct-r0', 'fe80::1083:adff:fe37:197/64');
  n.addAddress('ct-r1', '10.244.1.1/24');
  n.addAddress('ct-r1', 'fd00:245::1/64');
  n.addAddress('ct-r1', 'fe80::b88b:94ff:fe35:36a3/64');
  n.addRoute({ dst: '10.244.2.0/24', via: '10.244.1.7', dev: 'ct-r1', metric: 100 });
  n.addRoute({ type: 'blackhole', dst: '10.250.0.0/16' });
  n.addRoute({ type: 'unreachable', dst: '10.251.0.0/16' });
  n.addRoute({ type: 'prohibit', dst: '10.252.0.0/16' });
  n.addRoute({ dst: '10.253.0.0/16', via: '10.244.1.7', src: '10.244.0.1' });
  n.addRoute({ dst: 'default', via: '10.244.1.7' });
  return n;
}

const v4 = <T extends { dst: { ip: { family: number } } }>(rs: T[]) =>
  rs.filter((r) => r.dst.ip.family === 4);
const v6 = <T extends { dst: { ip: { family: number } } }>(rs: T[]) =>
  rs.filter((r) => r.dst.ip.family === 6);

describe('ip route / ip addr output', () => {
  it('`ip route show` matches the capture byte for byte', () => {
    expect(formatRoutes(v4(captured().mainTable().routes()))).toBe(fixture('route.txt'));
  });

  it('`ip route show table local` matches', () => {
    expect(formatRoutes(v4(captured().localTable().routes()))).toBe(fixture('route-local.txt'));
  });

  it('`ip -6 route show` has the same lines', () => {
    const ours = formatRoutes(v6(captured().mainTable().routes())).split('\n').sort();
    expect(ours).toEqual(fixture('route6.txt').split('\n').sort());
  });

  it('`ip -br addr` matches', () => {
    expect(formatAddrBrief(captured().interfaces())).toBe(fixture('addr-br.txt'));
  });
});

describe('route lookups (what `ip route get` said)', () => {
  const n = captured();
  it('longest prefix match, gateway and preferred source', () => {
    expect(n.route(ip('10.244.2.9'))).toMatchObject({ kind: 'unicast', dev: 'ct-r1', src: ip('10.244.1.1') });
    const d = n.route(ip('10.244.2.9'));
    expect(d.kind === 'unicast' && d.gateway?.text).toBe('10.244.1.7');
    expect(n.route(ip('8.8.8.8'))).toMatchObject({ kind: 'unicast', dev: 'ct-r1', src: ip('10.244.1.1') });
    // A src hint wins for locally generated traffic.
    expect(n.route(ip('10.253.0.1'))).toMatchObject({ kind: 'unicast', src: ip('10.244.0.1') });
    // On-link destination: no gateway.
    const onlink = n.route(ip('10.244.0.9'));
    expect(onlink.kind === 'unicast' && onlink.gateway).toBeUndefined();
  });

  it('local and broadcast destinations', () => {
    expect(n.route(ip('10.244.0.1'))).toMatchObject({ kind: 'local', dev: 'lo', src: ip('10.244.0.1') });
    expect(n.route(ip('127.9.9.9'))).toMatchObject({ kind: 'local', dev: 'lo', src: ip('127.0.0.1') });
    expect(n.route(ip('10.244.0.255'))).toMatchObject({
      kind: 'broadcast',
      dev: 'ct-r0',
      src: ip('10.244.0.1'),
    });
  });

  it('blackhole (EINVAL), unreachable (EHOSTUNREACH), prohibit (EACCES), no route (ENETUNREACH)', () => {
    expect(n.route(ip('10.250.1.1')).kind).toBe('blackhole');
    expect(n.route(ip('10.251.1.1'))).toEqual({ kind: 'unreachable', errno: 'EHOSTUNREACH', icmpCode: 1 });
    expect(n.route(ip('10.252.1.1'))).toEqual({ kind: 'prohibit', errno: 'EACCES', icmpCode: 13 });
    const bare = new RoutingNode();
    expect(bare.route(ip('10.1.1.1'))).toEqual({ kind: 'unreachable', errno: 'ENETUNREACH', icmpCode: 0 });
  });

  it('lower metric wins among equal prefixes', () => {
    const m = captured();
    m.addRoute({ dst: '10.244.2.0/24', via: '10.244.0.9', metric: 50 });
    expect(m.route(ip('10.244.2.1'))).toMatchObject({ dev: 'ct-r0' });
  });

  it('input: local delivery, forwarding, ip_forward=0, ICMP codes', () => {
    expect(n.routeInput(ip('10.244.1.1'), 'ct-r0')).toEqual({ kind: 'local', broadcast: false });
    expect(n.routeInput(ip('10.244.2.5'), 'ct-r0')).toMatchObject({ kind: 'forward', dev: 'ct-r1' });
    expect(n.routeInput(ip('10.251.0.1'), 'ct-r0')).toMatchObject({ kind: 'icmp-unreachable', icmpCode: 1 });
    expect(n.routeInput(ip('10.252.0.1'), 'ct-r0')).toMatchObject({ kind: 'icmp-unreachable', icmpCode: 13 });
    expect(n.routeInput(ip('10.250.0.1'), 'ct-r0').kind).toBe('drop');
    const off = captured();
    off.ipForward = false;
    expect(off.routeInput(ip('10.244.2.5'), 'ct-r0').kind).toBe('drop');
    expect(off.routeInput(ip('10.244.1.1'), 'ct-r0').kind).toBe('local');
  });

  it('a link going down takes its routes with it', () => {
    const m = captured();
    m.setUp('ct-r1', false);
    expect(m.route(ip('8.8.8.8')).kind).toBe('unreachable');
    expect(m.addrType(ip('10.244.1.1'))).toBe('UNICAST');
    m.setUp('ct-r1', true);
    expect(m.route(ip('10.244.1.9')).kind).toBe('unicast');
    expect(m.route(ip('8.8.8.8')).kind).toBe('unreachable'); // the static default is gone for good
  });

  it('rejects a gateway that is not on a connected subnet', () => {
    expect(() => captured().addRoute({ dst: '10.9.0.0/16', via: '192.168.1.1' })).toThrow(
      expect.objectContaining({ code: 'KPATH_E_INVALID' }),
    );
  });
});

describe('addrtype', () => {
  const n = captured();
  it('LOCAL, BROADCAST, MULTICAST, UNICAST', () => {
    expect(n.addrType(ip('10.244.0.1'))).toBe('LOCAL');
    expect(n.addrType(ip('127.0.0.53'))).toBe('LOCAL');
    expect(n.addrType(ip('10.244.0.255'))).toBe('BROADCAST');
    expect(n.addrType(ip('255.255.255.255'))).toBe('BROADCAST');
    expect(n.addrType(ip('224.0.0.1'))).toBe('MULTICAST');
    expect(n.addrType(ip('10.96.0.10'))).toBe('UNICAST');
    expect(n.addrType(ip('fd00:244::1'))).toBe('LOCAL');
    expect(n.addrType(ip('ff02::1'))).toBe('MULTICAST');
  });
  it('--limit-iface: a local address of another device is UNICAST', () => {
    expect(n.addrType(ip('10.244.0.1'), 'ct-r0')).toBe('LOCAL');
    expect(n.addrType(ip('10.244.0.1'), 'ct-r1')).toBe('UNICAST');
  });
});

describe('source selection', () => {
  it('inet_select_addr prefers the primary address in the next hop subnet; secondaries never', () => {
    const n = new RoutingNode({ ipForward: true });
    n.addInterface({ name: 'eth0', up: true });
    n.addAddress('eth0', '192.168.1.10/24');
    n.addAddress('eth0', '192.168.1.11/24'); // secondary
    n.addAddress('eth0', '10.0.0.10/8');
    expect(n.interface('eth0')?.addresses[1]?.secondary).toBe(true);
    expect(n.selectSource('eth0', ip('10.1.2.3'))?.text).toBe('10.0.0.10');
    expect(n.selectSource('eth0', ip('172.16.0.1'))?.text).toBe('192.168.1.10');
  });

  it('MASQUERADE uses the outgoing device and ignores the route src hint', () => {
    const n = captured();
    // 10.253.0.0/16 carries `src 10.244.0.1`, but MASQUERADE on ct-r1 picks ct-r1's address.
    const d = n.route(ip('10.253.0.1'));
    if (d.kind !== 'unicast') throw new Error('x');
    expect(d.src?.text).toBe('10.244.0.1');
    expect(n.masqueradeSource(d.dev, d.gateway ?? ip('10.253.0.1'))?.text).toBe('10.244.1.1');
  });

  it('falls back to another device for global scope; none at all means drop', () => {
    const n = new RoutingNode();
    n.addInterface({ name: 'eth0', up: true });
    n.addInterface({ name: 'tun0', up: true });
    n.addAddress('eth0', '192.168.1.10/24');
    expect(n.masqueradeSource('tun0', ip('8.8.8.8'))?.text).toBe('192.168.1.10');
    const empty = new RoutingNode();
    empty.addInterface({ name: 'eth0', up: true });
    expect(empty.masqueradeSource('eth0', ip('8.8.8.8'))).toBeUndefined();
  });
});
