/**
 * ip_forward's MTU check against a real router namespace: client -- router -- server, the router's
 * link to the server at MTU 1400, a FORWARD and a nat POSTROUTING counter rule for the client's
 * packets. `ping -M do -s 1472` (1500 bytes, DF) is dropped by the router with ICMP fragmentation
 * needed before the FORWARD hook (net/ipv4/ip_forward.c: ip_exceeds_mtu, then NF_HOOK(FORWARD)):
 * neither counter moves and conntrack -L lists nothing (the entry made at PREROUTING is never
 * confirmed). `-s 1372` (1400 bytes) passes: both counters [1:1400], one entry. The emulated router,
 * with the same addresses, MTUs and rules, must agree on every counter and the entry count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { KernelNode, receive } from '../../netmodel/kernel/index.js';
import { packet } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';
import {
  cleanupStaleNamespaces,
  exec,
  must,
  Namespaces,
  netnsUnavailable,
  routerLine,
} from '../helpers/netns.js';

const PREFIX = 'kp-mtu-';
const reason = await netnsUnavailable(PREFIX, 'a router namespace', [
  ['ip', 'iproute2'],
  ['iptables-restore', 'iptables'],
  ['iptables-save', 'iptables'],
  ['conntrack', 'conntrack'],
  ['ping', 'iputils-ping'],
]);

const RULES = [
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  ':INPUT ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
  '-A POSTROUTING -s 10.99.1.2/32 -j RETURN',
  'COMMIT',
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  // A conntrack match, as kube-proxy's rules have: it makes the namespace track connections.
  '-A INPUT -m conntrack --ctstate INVALID -j DROP',
  '-A FORWARD -s 10.99.1.2/32 -j ACCEPT',
  'COMMIT',
  '',
].join('\n');

/** [packets:bytes] of the FORWARD and POSTROUTING rules in `iptables-save -c` text. */
function counters(save: string): { FORWARD?: string; POSTROUTING?: string } {
  const lines = save.split('\n');
  const of = (chain: string) => lines.find((l) => l.includes(`-A ${chain} `))?.split(' ')[0];
  return { FORWARD: of('FORWARD'), POSTROUTING: of('POSTROUTING') };
}

/** The emulated router: the same addresses, MTUs and rules. */
function emulated(): KernelNode {
  const n = new KernelNode({ name: 'router' });
  n.routing.addInterface({ name: 'r0', kind: 'ethernet', up: true });
  n.routing.addAddress('r0', '10.99.1.1/24');
  n.routing.addInterface({ name: 'r1', kind: 'ethernet', up: true, mtu: 1400 });
  n.routing.addAddress('r1', '10.99.2.1/24');
  n.restore(RULES);
  return n;
}

function emulate(n: KernelNode, length: number): void {
  const p = packet({
    proto: 'icmp',
    src: parseIP('10.99.1.2'),
    dst: parseIP('10.99.2.2'),
    icmp: { type: 8, code: 0, id: length },
    length,
    df: true,
    ttl: 64,
  });
  receive(n, p, 'r0', { now: 0, rng: new SeededRng(1) });
}

describe.skipIf(reason !== undefined)(
  `a too-big DF packet against a real router${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const nss = new Namespaces();
    const [c, r, s] = ['c', 'r', 's'].map((x) => `${PREFIX}${process.pid}-${x}`) as [string, string, string];
    beforeAll(async () => {
      await cleanupStaleNamespaces(PREFIX);
      await routerLine(nss, { client: c, router: r, server: s }, { mtu: 1400 });
      await must('ip', ['netns', 'exec', r, 'iptables-restore'], RULES);
    }, 30_000);
    afterAll(() => nss.removeAll());

    const ping = (size: number) =>
      exec('ip', [
        'netns',
        'exec',
        c,
        'ping',
        '-n',
        '-M',
        'do',
        '-s',
        String(size),
        '-c',
        '1',
        '-W',
        '2',
        '10.99.2.2',
      ]);
    const real = async () => ({
      counters: counters(await must('ip', ['netns', 'exec', r, 'iptables-save', '-c'])),
      entries: (await exec('ip', ['netns', 'exec', r, 'conntrack', '-L', '-p', 'icmp'])).stdout
        .split('\n')
        .filter((l) => l.startsWith('icmp')).length,
    });

    it('1500 bytes: frag-needed from the router, no FORWARD/POSTROUTING counter, no conntrack entry; the emulator agrees', async () => {
      const p = await ping(1472);
      expect(p.code).not.toBe(0);
      expect(p.stdout).toMatch(/Frag needed and DF set \(mtu = 1400\)/);
      const k = await real();
      expect(k).toEqual({ counters: { FORWARD: '[0:0]', POSTROUTING: '[0:0]' }, entries: 0 });
      const n = emulated();
      emulate(n, 1500);
      expect({
        counters: counters(n.save({ counters: true })),
        entries: n.conntrack.entries(0).length,
      }).toEqual(k);
    });

    it('then 1400 bytes: forwarded, both counters [1:1400], one entry; the emulator agrees', async () => {
      const p = await ping(1372);
      expect(p.code, p.stdout + p.stderr).toBe(0);
      const k = await real();
      expect(k).toEqual({ counters: { FORWARD: '[1:1400]', POSTROUTING: '[1:1400]' }, entries: 1 });
      const n = emulated();
      emulate(n, 1500);
      emulate(n, 1400);
      expect({
        counters: counters(n.save({ counters: true })),
        entries: n.conntrack.entries(0).length,
      }).toEqual(k);
    });
  },
);
