/**
 * `kpath up` in iptables mode under flannel VXLAN and Calico: the emulated kernel still decides every
 * real connection (a pod's traffic now arrives on its cali veth under Calico, not on cni0), a pod
 * reaching a ClusterIP keeps its own address, and a node process is masqueraded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../netmodel/clock.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import { addrs, baseCluster, echoDeployment, get, service, up, writeCluster } from '../up/helpers.js';

const CASES: [string, number, string][] = [
  ['flannel vxlan', 21, '  network:\n    plugin: flannel\n    backend: vxlan\n'],
  ['calico', 22, '  network:\n    plugin: calico\n'],
];

describe.each(CASES)('kpath up --mode iptables under %s', (_name, slot, network) => {
  const a = addrs(slot);
  const yaml = baseCluster(
    slot,
    `${echoDeployment('web', 4)}${service('web', { ip: a.svcIP(20), port: 8000 })}`,
    'iptables',
  ).replace(/( {2}nodePortRange: .*\n)/, `$1${network}`);
  let rt: Runtime;
  beforeAll(async () => {
    rt = await up({
      files: [writeCluster(yaml).file],
      clock: new ManualClock(7_000_000),
      node: 'node-a',
      watch: false,
    });
  });
  afterAll(async () => {
    await rt?.stop();
  });
  it('a pod reaching the ClusterIP keeps its own address; connections spread across pods', async () => {
    expect(rt.mode?.name).toBe('iptables');
    const client = rt
      .pods()
      .map((p) => p.loopbackIP)
      .find((t) => t.startsWith(`127.${200 + slot}.1.`))!;
    const own = client.replace(/^127\./, '10.');
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = (await get(a.svcTwin(20), 8000, '/', client)).json();
      seen.add(String(r.pod));
      if (r.podIP !== own) expect(String(r.client).split(':')[0]).toBe(own);
    }
    expect(seen.size).toBeGreaterThan(1);
  });
  it('a process on the node is masqueraded', async () => {
    const r = (await get(a.svcTwin(20), 8000, '/')).json();
    // The outgoing device's address: eth0's (the node IP; a cali veth has none, so Calico's node
    // uses it too), cni0's .1, or flannel.1's .0 towards a pod on another node.
    expect([a.nodeIP(11), `10.${200 + slot}.1.1`, `10.${200 + slot}.1.0`]).toContain(
      String(r.client).split(':')[0],
    );
  });
});
