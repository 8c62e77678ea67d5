/**
 * Longest-prefix match with numeric buckets (route.ts) against a brute-force scan of every route,
 * IPv4 and IPv6; and the RoutingNode lookup memo forgetting its answers when the configuration changes.
 */
import { describe, expect, it } from 'vitest';
import type { IP } from '../../netmodel/addr.js';
import { maxBits, parseIP, prefixContains, prefixOf, v4, v6 } from '../../netmodel/addr.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import type { Route } from '../../netmodel/routing/index.js';
import { RouteTable, RoutingNode } from '../../netmodel/routing/index.js';

function randomIP(rng: SeededRng, family: 4 | 6): IP {
  // Addresses from a small space, so that prefixes overlap often.
  if (family === 4)
    return v4((0x0a000000 | (intBelow(rng, 4) << 16) | (intBelow(rng, 4) << 8) | intBelow(rng, 8)) >>> 0);
  return v6((0xfd00n << 112n) | (BigInt(intBelow(rng, 4)) << 64n) | BigInt(intBelow(rng, 8)));
}

/** The answer RouteTable.lookup must give: longest prefix, then lowest metric, first usable, in add order. */
function bruteForce(routes: readonly Route[], ip: IP, usable: (r: Route) => boolean): Route | undefined {
  let best: Route | undefined;
  for (const r of routes) {
    if (!usable(r) || !prefixContains(r.dst, ip)) continue;
    if (!best || r.dst.bits > best.dst.bits || (r.dst.bits === best.dst.bits && r.metric < best.metric))
      best = r;
  }
  return best;
}

describe('RouteTable lookup', () => {
  it('agrees with a brute-force longest-prefix match (IPv4 and IPv6, metrics, unusable routes)', () => {
    const rng = new SeededRng(11);
    for (let round = 0; round < 30; round++) {
      const t = new RouteTable();
      const added: Route[] = [];
      for (let i = 0; i < 40; i++) {
        const family = intBelow(rng, 2) === 0 ? 4 : 6;
        const bits =
          family === 4
            ? [0, 8, 16, 22, 24, 29, 32][intBelow(rng, 7)]!
            : [0, 56, 64, 96, 126, 128][intBelow(rng, 6)]!;
        const r: Route = {
          type: 'unicast',
          dst: prefixOf(randomIP(rng, family), Math.min(bits, maxBits(family))),
          dev: `dev${intBelow(rng, 3)}`,
          metric: intBelow(rng, 3) * 100,
          scope: 'link',
          proto: 'boot',
        };
        t.add(r);
        added.push(r);
      }
      const usable = (r: Route) => r.dev !== 'dev2';
      for (let q = 0; q < 200; q++) {
        const ip = randomIP(rng, intBelow(rng, 2) === 0 ? 4 : 6);
        expect(t.lookup(ip, usable)).toBe(bruteForce(added, ip, usable));
        expect(t.lookup(ip)).toBe(bruteForce(added, ip, () => true));
      }
      t.remove((r) => r.metric === 100);
      const left = added.filter((r) => r.metric !== 100);
      for (let q = 0; q < 50; q++) {
        const ip = randomIP(rng, intBelow(rng, 2) === 0 ? 4 : 6);
        expect(t.lookup(ip, usable)).toBe(bruteForce(left, ip, usable));
      }
      expect(t.routes().length).toBe(left.length);
    }
  });
});

describe('RoutingNode lookup memo', () => {
  it('forgets its answers when interfaces, addresses or routes change', () => {
    const n = new RoutingNode({ ipForward: true });
    n.addInterface({ name: 'eth0', up: true });
    n.addAddress('eth0', '10.0.0.11/24');
    n.addInterface({ name: 'eth1', up: true });
    n.addAddress('eth1', '10.1.0.11/24');
    const dst = parseIP('10.9.0.1');
    expect(n.route(dst).kind).toBe('unreachable');
    n.addRoute({ dst: '10.9.0.0/16', via: '10.0.0.1' });
    const r1 = n.route(dst);
    expect(r1.kind === 'unicast' && r1.dev).toBe('eth0');
    n.addRoute({ dst: '10.9.0.0/24', via: '10.1.0.1' });
    const r2 = n.route(dst);
    expect(r2.kind === 'unicast' && r2.dev).toBe('eth1');
    n.setUp('eth1', false);
    const r3 = n.route(dst);
    expect(r3.kind === 'unicast' && r3.dev).toBe('eth0');
    expect(n.isLocal(parseIP('10.1.0.11'))).toBe(false);
    n.setUp('eth1', true);
    expect(n.isLocal(parseIP('10.1.0.11'))).toBe(true);
    n.addAddress('eth0', '10.9.0.1/32');
    expect(n.route(dst).kind).toBe('local');
    expect(n.routeInput(dst, 'eth0').kind).toBe('local');
    n.delAddress('eth0', '10.9.0.1');
    expect(n.routeInput(dst, 'eth0').kind).toBe('forward');
    expect(n.delRoute('10.9.0.0/16')).toBe(1);
    n.setUp('eth0', false);
    expect(n.route(dst).kind).toBe('unreachable');
    // IPv6 and IPv4 keys never meet: ::1 (1n) and 0.0.0.1 (1) are different addresses.
    expect(n.isLocal(parseIP('::1'))).toBe(true);
    expect(n.isLocal(parseIP('0.0.0.1'))).toBe(false);
  });

  it('gives the same answers past its size limit', () => {
    const n = new RoutingNode({ ipForward: true });
    n.addInterface({ name: 'eth0', up: true });
    n.addAddress('eth0', '10.0.0.11/8');
    for (let i = 0; i < 10_000; i++) {
      const ip = v4(0x0a000000 + i);
      expect(n.isLocal(ip)).toBe(i === 11);
      const r = n.route(ip);
      expect(r.kind).toBe(i === 11 ? 'local' : 'unicast');
    }
  });
});
