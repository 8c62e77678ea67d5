/**
 * The differential the pod network is checked by: the same two-node cluster built twice, once in
 * real network namespaces (test/podnet-diff/real.ts: bridges, veths, vxlan as the bridge plugin and
 * flanneld set them up) and once as a kpath cluster, with every MAC and host veth name taken from
 * kpath's model. Each send (pings around the MTU with and without DF, a TCP connection, a UDP
 * datagram) runs for real with dumpcap on every device of the path, and as `kpath trace --pcap`; the
 * two captures must agree field by field on every interface (addresses, MACs, TTL, lengths, DF and
 * fragments, VNI, ports, ICMP type/code/MTU, TCP options), leaving out only what the kernel
 * randomises (IP ids, sequence numbers, the ping identifier, the VXLAN source port).
 *
 * Each send starts with the neighbour tables flushed (flannel's permanent entries stay), as each
 * `kpath trace` starts from fresh kernels.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DecodedFrame } from '../../netmodel/pcap/index.js';
import { leftoverNamespaces } from '../helpers/netns.js';
import { compareCaptures, sentTraffic } from './compare.js';
import {
  alignWithModel,
  type EmulatedSend,
  emulateSend,
  type ModelNetwork,
  writeCluster,
} from './emulate.js';
import { cleanupStale, NS_PREFIX, type RealRun, runRealTopology, unavailableReason } from './real.js';
import { type CapturePoint, hostVethName, type RealTopologySpec, type Send, twoNodeSpec } from './spec.js';

const reason = await unavailableReason();

/**
 * Every device of both nodes (eth0, cni0, flannel.1, every host veth) and every pod's eth0: the path
 * between client and server, and where ARP requests are flooded besides.
 */
function everyDevice(spec: RealTopologySpec, vxlan: boolean): CapturePoint[] {
  return spec.nodes.flatMap((n, i): CapturePoint[] => [
    ...n.pods.map((p) => ({ pod: p.name })),
    ...n.pods.map((p) => ({ node: n.name, device: hostVethName(n, i, p.name) })),
    ...(spec.network === 'calico' ? [] : [{ node: n.name, device: 'cni0' }]),
    ...(vxlan ? [{ node: n.name, device: 'flannel.1' }] : []),
    { node: n.name, device: 'eth0' },
  ]);
}

const isSyn = (f: DecodedFrame) => (f.inner ?? f).tcp?.flags.syn === true;

/** What a send's comparison looks at: the traffic (not IGMP), and of a TCP connection its SYN and SYN-ACK. */
function keepFor(s: Send, arp: boolean): (f: DecodedFrame) => boolean {
  return (f) => {
    if (f.arp) return arp;
    if (!sentTraffic(f)) return false;
    return s.kind !== 'tcp' || isSyn(f);
  };
}

interface Case {
  readonly name: string;
  readonly network: ModelNetwork;
  readonly vxlan: boolean;
  readonly calico?: boolean;
  readonly podMtu?: number;
  readonly sends: readonly Send[];
}

const tcp: Send = { kind: 'tcp', from: 'client', to: 'server', port: 8080, sport: 43210, bytes: 5 };
const udp: Send = { kind: 'udp', from: 'client', to: 'server', port: 5000, sport: 43210, bytes: 100 };
const ping = (size: number, df: boolean): Send => ({ kind: 'ping', from: 'client', to: 'server', size, df });

const CASES: Case[] = [
  {
    name: 'flannel vxlan (pods at 1450)',
    network: { plugin: 'flannel', backend: 'vxlan' },
    vxlan: true,
    sends: [ping(56, true), ping(1422, true), ping(1423, true), ping(1423, false), tcp, udp],
  },
  {
    name: 'flannel vxlan with pods at 1500 over the 1450 overlay',
    network: { plugin: 'flannel', backend: 'vxlan', mtu: 1500 },
    vxlan: true,
    podMtu: 1500,
    // No DF: node-a fragments it; DF: dropped on node-a with frag-needed from the gateway. In this
    // order: the frag-needed leaves a path MTU of 1450 in the client's route cache (a PMTU exception
    // that outlives the neighbour flush), after which the client would fragment by itself.
    sends: [ping(1472, false), ping(1472, true)],
  },
  {
    name: 'bridge with static host-gw routes',
    network: { plugin: 'bridge' },
    vxlan: false,
    sends: [ping(1472, true), ping(1473, true), ping(1473, false), tcp, udp],
  },
  {
    name: 'flannel host-gw',
    network: { plugin: 'flannel', backend: 'host-gw' },
    vxlan: false,
    sends: [ping(1472, true), tcp],
  },
  {
    name: 'calico (BGP routes, proxy ARP for 169.254.1.1)',
    network: { plugin: 'calico' },
    vxlan: false,
    calico: true,
    sends: [ping(1472, true), ping(1473, false), tcp, udp],
  },
];

describe.skipIf(reason !== undefined)(
  `differential: real namespaces vs kpath trace --pcap${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    afterAll(async () => {
      expect(await leftoverNamespaces(NS_PREFIX)).toEqual([]);
    });

    describe.each(CASES)('$name', (c) => {
      const base = twoNodeSpec({
        // A second pod on node-a: the client's ARP request is flooded to it too.
        nodes: [
          {
            name: 'node-a',
            ip: '10.0.0.11',
            podCidr: '10.244.1.0/24',
            pods: [{ name: 'client' }, { name: 'other' }],
          },
          { name: 'node-b', ip: '10.0.0.12', podCidr: '10.244.2.0/24', pods: [{ name: 'server' }] },
        ],
        network: c.calico ? 'calico' : c.vxlan ? 'vxlan' : 'host-gw',
        ...(c.podMtu !== undefined ? { podMtu: c.podMtu } : {}),
        sends: c.sends,
        freshNeighbours: true,
      });
      const model = writeCluster(base, c.network);
      const aligned = alignWithModel(base, model.snapshot);
      const spec: RealTopologySpec = { ...aligned, capture: everyDevice(aligned, c.vxlan) };
      let run: RealRun | undefined;
      const emulated: EmulatedSend[] = [];
      afterAll(() => model.remove());

      it('real run and kpath trace of every send', async () => {
        await cleanupStale();
        run = await runRealTopology(spec);
        for (const s of spec.sends) emulated.push(await emulateSend(model, spec, s));
        expect(run.perSend).toHaveLength(spec.sends.length);
      }, 120_000);

      it.each(c.sends.map((s, i) => [i, s] as const))('send %i: %o agrees frame by frame', (i, s) => {
        expect(run, 'the real run failed').toBeDefined();
        const real = run!.perSend[i]!;
        const emu = emulated[i]!;
        const keep = keepFor(s, true);
        const diffs = compareCaptures(real, emu.frames, { interfaces: Object.keys(real), keep });
        expect(diffs).toEqual([]);
        // The send itself: answered, or failing the same way.
        const r = run!.sends[i]!;
        const client = real['pod/default/client/eth0']!.filter((f) => keep(f) && !f.arp);
        // Every send starts with the neighbours flushed: a frame on the wire means an ARP exchange first.
        const arp = real['pod/default/client/eth0']!.filter((f) => f.arp).map((f) => f.arp!.op);
        expect(arp).toEqual(client.length > 0 ? [1, 2] : []);
        if (r.code === 0) {
          // Answered: the request and the answer crossed the client's eth0 (fragments counted apart).
          expect(client.length).toBeGreaterThanOrEqual(2);
          expect(emu.stdout).toMatch(/pod default\/client on node-a receives/);
        } else if (/message too long/.test(r.output)) {
          // EMSGSIZE: nothing reached any wire, on either side.
          expect(Object.values(real).flat().filter(keep)).toEqual([]);
          expect(emu.stdout).toMatch(/EMSGSIZE \(Message too long\)/);
        } else {
          expect(r.output).toMatch(/Frag needed and DF set \(mtu = 1450\)/);
          expect(client.map((f) => f.icmp?.type)).toEqual([8, 3]);
        }
      });
    });
  },
);
