import { describe, expect, it } from 'vitest';
import { arpRequest, synOnUnderlay, tcpSyn } from '../pcap/builders.js';
import { compareCaptures, notArp } from './compare.js';
import { captureName, defaultMacScheme, twoNodeSpec } from './spec.js';

describe('compareCaptures', () => {
  it('ignores randomised fields (IP id, sequence numbers, the VXLAN source port) and reports the rest', () => {
    const other = {
      ...synOnUnderlay,
      ipv4: { ...synOnUnderlay.ipv4!, id: 999 },
      udp: { ...synOnUnderlay.udp!, sport: 40000 },
      inner: { ...synOnUnderlay.inner!, tcp: { ...synOnUnderlay.inner!.tcp!, seq: 1 } },
    };
    expect(compareCaptures({ 'node-a/eth0': [synOnUnderlay] }, { 'node-a/eth0': [other] })).toEqual([]);
    const wrongTtl = { ...other, inner: { ...other.inner, ipv4: { ...other.inner.ipv4!, ttl: 64 } } };
    expect(compareCaptures({ 'node-a/eth0': [synOnUnderlay] }, { 'node-a/eth0': [wrongTtl] })).toEqual([
      'node-a/eth0 #1 inner.ip.ttl: real 63, emulated 64',
    ]);
  });

  it('reports missing frames and interfaces, and can leave ARP out', () => {
    expect(compareCaptures({ 'pod/default/client/eth0': [arpRequest, tcpSyn] }, {})).toEqual([
      'pod/default/client/eth0: real has 2 frames, emulated 0',
    ]);
    expect(compareCaptures({ x: [arpRequest, tcpSyn] }, { x: [tcpSyn] }, { keep: notArp })).toEqual([]);
  });
});

describe('the topology spec', () => {
  it('names capture points as kpath`s pcap does and derives readable MACs from addresses', () => {
    const spec = twoNodeSpec();
    expect(captureName(spec, { pod: 'client' })).toBe('pod/default/client/eth0');
    expect(captureName(spec, { node: 'node-b', device: 'flannel.1' })).toBe('node-b/flannel.1');
    const mac = defaultMacScheme(spec);
    expect(mac({ kind: 'node-eth0', node: 'node-a' }, { nodeIndex: 0 })).toBe('02:00:0a:00:00:0b');
    expect(mac({ kind: 'cni0', node: 'node-b' }, { nodeIndex: 1 })).toBe('0a:58:0a:f4:02:01');
    expect(mac({ kind: 'flannel.1', node: 'node-a' }, { nodeIndex: 0 })).toBe('42:00:0a:f4:01:00');
    expect(mac({ kind: 'pod-eth0', node: 'node-b', pod: 'server' }, { nodeIndex: 1, podIndex: 0 })).toBe(
      '0a:58:0a:f4:02:02',
    );
  });
});
