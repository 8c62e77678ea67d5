/**
 * Stable scheduling under kpath up: scaling one deployment in a reload leaves every other pod where it
 * was (node, name, IP) and an established connection to one of them keeps working.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  addrs,
  baseCluster,
  dial,
  echoDeployment,
  memoryLogger,
  service,
  up,
  waitFor,
  writeCluster,
} from './helpers.js';

const SLOT = 21;
const a = addrs(SLOT);
// "aaa" sorts before "cart": before kpath kept placements, scaling it moved cart's pod and reset it.
const cluster = (aaa: number) =>
  baseCluster(
    SLOT,
    echoDeployment('aaa', aaa) +
      echoDeployment('cart', 1) +
      service('aaa', { ip: a.svcIP(20), port: 8000 }) +
      service('cart', { ip: a.svcIP(21), port: 8000 }),
    'userspace',
    { dnsAddon: true },
  );

async function echo(s: Socket, text: string): Promise<string> {
  s.write(text);
  let got = '';
  while (got.length < text.length) {
    const [d] = (await once(s, 'data')) as [Buffer];
    got += d.toString();
  }
  return got;
}

describe('stable scheduling under kpath up', () => {
  it("scaling aaa keeps cart's pod and its established connection", async () => {
    const files = writeCluster(cluster(1));
    const mem = memoryLogger('info');
    const rt = await up({ files: [files.file], logger: mem.logger, watch: false });
    try {
      const cartBefore = rt.pods().find((p) => p.pod.startsWith('default/cart-'))!;
      const coredns = () =>
        rt
          .pods()
          .filter((p) => p.pod.startsWith('kube-system/coredns-'))
          .map((p) => `${p.pod}@${p.node}=${p.podIP}`);
      const corednsBefore = coredns();
      expect(corednsBefore).toHaveLength(2);
      const s = await dial(a.svcTwin(21), 8000);
      expect(await echo(s, 'before-scale')).toBe('before-scale');
      for (const replicas of [3, 6]) {
        files.write(cluster(replicas));
        expect(await rt.reload()).toBe(true);
        await waitFor(
          () => rt.pods().filter((p) => p.pod.startsWith('default/aaa-')).length === replicas,
          'aaa scaled',
        );
        const cartAfter = rt.pods().find((p) => p.pod.startsWith('default/cart-'))!;
        expect({ pod: cartAfter.pod, node: cartAfter.node, podIP: cartAfter.podIP }).toEqual({
          pod: cartBefore.pod,
          node: cartBefore.node,
          podIP: cartBefore.podIP,
        });
        expect(coredns()).toEqual(corednsBefore);
        expect(await echo(s, `after-${replicas}`)).toBe(`after-${replicas}`);
      }
      // The cart pod was started once and never stopped.
      for (const pod of [cartBefore.pod, ...corednsBefore.map((c) => c.split('@')[0])]) {
        const lines = mem.lines().filter((l) => l.pod === pod);
        expect(lines.filter((l) => l.msg === 'pod started')).toHaveLength(1);
        expect(lines.filter((l) => l.msg === 'pod stopped')).toHaveLength(0);
      }
      s.destroy();
    } finally {
      await rt.stop();
    }
  });
});
