/** `Cluster.spec.network`: decoded and validated once; a pod at the gateway address is a warning under a bridge. */
import { describe, expect, it } from 'vitest';
import { build, clusterCfg, errorsOf, node, snapshotOf } from '../helpers/cluster.js';
import { fixedPod } from './helpers.js';

const cfg = (network?: unknown) =>
  clusterCfg({ podCIDR: '10.244.0.0/16', ...(network !== undefined ? { network } : {}) });

describe('Cluster spec.network', () => {
  it('defaults to the bridge plugin with host-gw routes; each plugin has its default backend', () => {
    expect(snapshotOf(cfg()).config.network).toEqual({ plugin: 'bridge', backend: 'host-gw' });
    expect(snapshotOf(cfg({ plugin: 'flannel' })).config.network).toEqual({
      plugin: 'flannel',
      backend: 'vxlan',
    });
    expect(snapshotOf(cfg({ plugin: 'calico' })).config.network).toEqual({
      plugin: 'calico',
      backend: 'bgp',
    });
    expect(snapshotOf(cfg({ plugin: 'flannel', backend: 'host-gw', mtu: 9000 })).config.network).toEqual({
      plugin: 'flannel',
      backend: 'host-gw',
      mtu: 9000,
    });
  });
  it('refuses an unknown plugin, a backend the plugin does not have, and an impossible MTU, naming the field', () => {
    const e1 = errorsOf(cfg({ plugin: 'weave' }));
    expect(e1.map((e) => e.field)).toContain('spec.network.plugin');
    const e2 = errorsOf(cfg({ plugin: 'calico', backend: 'host-gw' }));
    expect(e2.find((e) => e.field === 'spec.network.backend')?.message).toMatch(
      /not a backend of calico .*"bgp" or "vxlan"/,
    );
    expect(errorsOf(cfg({ plugin: 'flannel', mtu: 40 })).map((e) => e.field)).toContain('spec.network.mtu');
  });
  it('a pod at .1 is a warning naming the conflict under bridge and flannel, and fine under calico', () => {
    for (const plugin of ['bridge', 'flannel']) {
      const r = build(
        cfg({ plugin }),
        node('n1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' }),
        fixedPod('gw', 'n1', '10.244.1.1'),
      );
      expect(r.ok).toBe(true);
      const w = r.diagnostics.filter((d) => d.severity === 'warning');
      expect(w.find((d) => d.field === 'status.podIP')?.message).toMatch(
        /10\.244\.1\.1 is cni0's gateway address on node n1/,
      );
    }
    const r = build(
      cfg({ plugin: 'calico' }),
      node('n1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' }),
      fixedPod('gw', 'n1', '10.244.1.1'),
    );
    expect(r.ok).toBe(true);
    expect(r.diagnostics.filter((d) => d.field === 'status.podIP')).toEqual([]);
  });
});
