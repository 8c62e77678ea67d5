/**
 * Which state the web page's topology redraw starts from (proxy/ui/web/redraw.ts, run here in Node):
 * the topology and the live messages carry the version of the snapshot they come from, and every
 * readiness change is a new version. A redraw draws the live readiness when the live message is as
 * new as the topology or newer, the topology's own when it is newer; an older message never redraws
 * a pod as it was before.
 */
import { describe, expect, it } from 'vitest';
import { liveIsCurrent, topologyBehind, topologyToDraw } from '../../proxy/ui/web/redraw.js';
import type { Live, Topology } from '../../proxy/ui/web/types.js';

const pod = (name: string, ready: boolean) => ({
  namespace: 'default',
  name,
  ip: '10.244.1.2',
  ready,
  phase: 'Running',
  hostNetwork: false,
});

const topology = (version: number, ready: boolean): Topology => ({
  mode: 'iptables',
  version,
  podCIDRs: [],
  serviceCIDRs: [],
  podNetwork: 'bridge',
  nodes: [
    { name: 'node-a', ips: [], podCIDRs: [], ready: true, pods: [pod('web', ready), pod('client', true)] },
  ],
  unscheduled: [],
  services: [],
});

const live = (version: number, ready: boolean): Live =>
  ({
    mode: 'iptables',
    version,
    connections: [],
    closing: 0,
    perService: {},
    denials: [],
    pods: [
      { pod: 'default/web', node: 'node-a', ready },
      { pod: 'default/client', node: 'node-a', ready: true },
    ],
  }) as unknown as Live;

const drawnReady = (t: Topology) => t.nodes[0]!.pods.find((p) => p.name === 'web')!.ready;

describe('the topology redraw starts from the live state', () => {
  it('a topology fetched before the probe passed is drawn with the live readiness (no not-ready frame)', () => {
    // The live message (v8: web ready) is newer than the topology the fetch returned (v7: not ready).
    const t = topology(7, false);
    expect(drawnReady(topologyToDraw(t, live(8, true)))).toBe(true);
    expect(topologyBehind(t, live(8, true))).toBe(true);
  });

  it('the same version: the live readiness (they agree)', () => {
    expect(drawnReady(topologyToDraw(topology(8, true), live(8, true)))).toBe(true);
  });

  it('a live message older than the topology is not drawn over it', () => {
    // The fetch returned v9 (web ready) while the last message is still v8 (web not ready).
    const t = topology(9, true);
    expect(liveIsCurrent(t, live(8, false))).toBe(false);
    expect(drawnReady(topologyToDraw(t, live(8, false)))).toBe(true);
    expect(topologyBehind(t, live(8, false))).toBe(false);
  });

  it('no live message yet: the topology as fetched', () => {
    const t = topology(3, false);
    expect(topologyToDraw(t, undefined)).toBe(t);
  });
});
