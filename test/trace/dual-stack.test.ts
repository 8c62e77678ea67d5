/** Dual-stack: kube-proxy runs one proxier per family, and the emulated node has both rule sets. */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { parseIP } from '../../netmodel/addr.js';
import { receive } from '../../netmodel/kernel/index.js';
import { packet } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';
import { ClusterDatapath } from '../../proxy/datapath.js';
import { clusterCfg, deployment, snapshotOf, svc, yamlOf } from '../helpers/cluster.js';

const docs = [
  clusterCfg({ podCIDR: '10.244.0.0/16,fd00:10:244::/56', serviceCIDR: '10.96.0.0/16,fd00:10:96::/112' }),
  {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1' },
    status: {
      addresses: [
        { type: 'InternalIP', address: '10.0.0.11' },
        { type: 'InternalIP', address: 'fd00:10::11' },
      ],
    },
  },
  deployment('web', 2, { ports: [{ containerPort: 8080 }] }),
  svc('web', { ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 80, targetPort: 8080 }] }),
];

describe('dual-stack datapath', () => {
  it('pods get an address of each family and IPv6 traffic to the IPv6 cluster IP is DNATed to an IPv6 endpoint', () => {
    const snap = snapshotOf(...docs);
    const web = snap.service('default', 'web')!;
    expect(web.clusterIPs.map((i) => i.family)).toEqual([4, 6]);
    const pods = snap.pods.filter((p) => p.meta.labels.app === 'web');
    for (const p of pods) expect(p.podIPs.map((i) => i.family)).toEqual([4, 6]);
    const dp = ClusterDatapath.build(snap);
    const node = dp.node('n1');
    const v6Client = parseIP('fd00:10:244::99');
    const r = receive(
      node,
      packet({ proto: 'tcp', src: v6Client, dst: web.clusterIPs[1]!, sport: 40000, dport: 80 }),
      'cni0',
      {
        now: 0,
        rng: new SeededRng(3),
      },
    );
    expect(r.verdict).toBe('ACCEPT');
    expect(r.dnat?.ip.family).toBe(6);
    expect(pods.map((p) => p.podIPs[1]!.text)).toContain(r.dnat!.ip.text);
    expect(r.dnat!.port).toBe(8080);
    expect(node.save({ family: 6 })).toContain(`-d ${web.clusterIPs[1]!.text}/128 -p tcp`);
  });

  it('kpath rules --family 6 prints the ip6tables view', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpath-ds-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, yamlOf(...docs));
    const io = bufferIO();
    expect(await main(['rules', '-f', file, '--family', '6', '--table', 'nat'], io)).toBe(0);
    expect(io.stdout()).toMatch(
      /-A KUBE-SERVICES -d fd00:10:96::[0-9a-f]+\/128 -p tcp -m comment --comment "default\/web cluster IP"/,
    );
    expect(io.stdout()).toMatch(/DNAT --to-destination \[fd00:10:244:/);
  });
});
