/**
 * The real kernel, measured: flannel VXLAN between two nodes built in network namespaces, pings
 * around the 1450 MTU with and without DF, a TCP connection and a UDP datagram, captured on the
 * pods' eth0, flannel.1 and the underlay eth0. These are the facts the emulator's pcap must match
 * (docs/podnet-measured.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { packet } from '../../netmodel/packet.js';
import {
  checkFrame,
  type DecodedFrame,
  encodeFrame,
  type Frame,
  frameFields,
  frameFromPacket,
  ICMP_QUOTE_MAX,
  icmpFragNeeded,
  LOCAL_PORT_RANGE,
  udpFlowSrcPort,
  vxlanEncapsulate,
  vxlanFlowHash,
} from '../../netmodel/pcap/index.js';
import { compareCaptures, sentTraffic } from './compare.js';
import { cleanupStale, NS_PREFIX, type RealRun, runRealTopology, unavailableReason } from './real.js';
import { twoNodeSpec } from './spec.js';

const reason = await unavailableReason();

const spec = twoNodeSpec({
  nodes: [
    {
      name: 'node-a',
      ip: '10.0.0.11',
      podCidr: '10.244.1.0/24',
      // `big` is misconfigured with the underlay's MTU, as a pod whose CNI forgot the overlay.
      pods: [{ name: 'client' }, { name: 'big', mtu: 1500 }],
    },
    { name: 'node-b', ip: '10.0.0.12', podCidr: '10.244.2.0/24', pods: [{ name: 'server' }] },
  ],
  sends: [
    { kind: 'ping', from: 'client', to: 'server', size: 1422, df: true },
    { kind: 'ping', from: 'client', to: 'server', size: 1423, df: true },
    { kind: 'ping', from: 'client', to: 'server', size: 1423, df: false },
    { kind: 'ping', from: 'big', to: 'server', size: 1472, df: true },
    { kind: 'tcp', from: 'client', to: 'server', port: 8080, sport: 40000, bytes: 5 },
    { kind: 'udp', from: 'client', to: 'server', port: 5000, sport: 40001, bytes: 100 },
  ],
  capture: [
    { pod: 'client' },
    { pod: 'big' },
    { node: 'node-a', device: 'flannel.1' },
    { node: 'node-a', device: 'eth0' },
    { node: 'node-b', device: 'flannel.1' },
    { pod: 'server' },
  ],
});

const F = (f: DecodedFrame) => frameFields(f);

describe.skipIf(reason !== undefined)(
  `real kernel: flannel VXLAN across two nodes${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    let run: RealRun;
    beforeAll(async () => {
      await cleanupStale();
      run = await runRealTopology(spec);
    }, 60_000);
    afterAll(async () => {
      const { execFileSync } = await import('node:child_process');
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.startsWith(`${NS_PREFIX}${process.pid}-`));
      expect(left).toEqual([]);
    });

    // ARP is resolved before capturing (warmArp); a late neighbour probe can still show up, so the
    // facts below are about the IP frames.
    const frames = (iface: string) => run.frames[iface]!.filter(sentTraffic).map(F);
    const echoRequests = (iface: string) =>
      frames(iface).filter((f) => f['icmp.type'] === 8 || f['inner.icmp.type'] === 8);

    it('a 1422-byte ping with DF fits the 1450 overlay; 1423 fails in the sender (EMSGSIZE, mtu=1450)', () => {
      expect(run.sends[0]!.code).toBe(0);
      expect(run.sends[1]!.code).not.toBe(0);
      expect(run.sends[1]!.output).toMatch(/local error: message too long, mtu=1450/);
      const sent = frames('pod/default/client/eth0').filter((f) => f['ip.src'] === '10.244.1.2');
      expect(sent[0]).toMatchObject({
        'ip.len': 1450,
        'ip.flags.df': true,
        'ip.ttl': 64,
        'icmp.type': 8,
        'frame.len': 1464,
      });
      // Nothing of the 1423-byte DF ping reached the wire.
      expect(sent.filter((f) => f['ip.len'] === 1451)).toEqual([]);
    });

    it('without DF the 1423-byte ping leaves the pod as two fragments, 1444 (MF) and 27 at offset 1424', () => {
      expect(run.sends[2]!.code).toBe(0);
      const frags = frames('pod/default/client/eth0').filter(
        (f) =>
          f['ip.src'] === '10.244.1.2' && (f['ip.flags.mf'] === true || (f['ip.frag_offset'] as number) > 0),
      );
      expect(frags.map((f) => [f['ip.len'], f['ip.flags.mf'], (f['ip.frag_offset'] as number) * 8])).toEqual([
        [1444, true, 0],
        [27, false, 1424],
      ]);
      // The underlay carries each fragment in its own VXLAN packet.
      const under = frames('node-a/eth0').filter(
        (f) => f['inner.ip.src'] === '10.244.1.2' && f['inner.ip.proto'] === 1,
      );
      expect(under.map((f) => f['inner.ip.len'])).toEqual([1450, 1444, 27]);
    });

    it('VXLAN on eth0: UDP 8472, VNI 1, outer IP = inner + 50, DF clear, TTL 64, checksum computed', () => {
      const eth0 = frames('node-a/eth0');
      expect(eth0.length).toBeGreaterThan(10);
      for (const f of eth0) {
        expect(f).toMatchObject({
          'ip.proto': 17,
          'udp.dstport': 8472,
          'vxlan.vni': 1,
          'ip.flags.df': false,
          'ip.ttl': 64,
        });
        expect(f['udp.checksum_zero']).toBe(false);
        expect(f['ip.len']).toBe((f['inner.ip.len'] as number) + 50);
        expect(f['frame.len']).toBe((f['inner.frame.len'] as number) + 50);
        expect(f['ip.dsfield.dscp']).toBe(0);
        const sport = f['udp.srcport'] as number;
        expect(sport).toBeGreaterThanOrEqual(LOCAL_PORT_RANGE[0]);
        expect(sport).toBeLessThan(LOCAL_PORT_RANGE[1]);
        const fromA = f['ip.src'] === '10.0.0.11';
        expect([f['ip.src'], f['ip.dst']]).toEqual(
          fromA ? ['10.0.0.11', '10.0.0.12'] : ['10.0.0.12', '10.0.0.11'],
        );
        expect([f['eth.src'], f['eth.dst']]).toEqual(
          fromA ? ['02:00:0a:00:00:0b', '02:00:0a:00:00:0c'] : ['02:00:0a:00:00:0c', '02:00:0a:00:00:0b'],
        );
        expect([f['inner.eth.src'], f['inner.eth.dst']]).toEqual(
          fromA ? ['42:00:0a:f4:01:00', '42:00:0a:f4:02:00'] : ['42:00:0a:f4:02:00', '42:00:0a:f4:01:00'],
        );
      }
      // The 1422-byte ping: 1514 bytes on the wire, the underlay's full 1500 MTU.
      expect(eth0[0]).toMatchObject({ 'frame.len': 1514, 'ip.len': 1500, 'inner.ip.len': 1450 });
      // One outer source port per inner flow and direction (udp_flow_src_port of the inner flow hash).
      const ports = new Map<string, Set<number>>();
      for (const f of eth0.filter((x) => x['inner.tcp.srcport'] !== undefined)) {
        const key = `${f['inner.ip.src']}:${f['inner.tcp.srcport']}`;
        if (!ports.has(key)) ports.set(key, new Set());
        ports.get(key)!.add(f['udp.srcport'] as number);
      }
      expect([...ports.values()].map((s) => s.size)).toEqual([1, 1]);
    });

    it('TTL: 64 leaving the pod, 63 on both flannel.1, 62 at the far pod; no ARP on flannel.1', () => {
      const ttl = (iface: string) => echoRequests(iface)[0]!;
      expect(ttl('pod/default/client/eth0')['ip.ttl']).toBe(64);
      expect(ttl('node-a/flannel.1')['ip.ttl']).toBe(63);
      expect(ttl('node-a/eth0')['inner.ip.ttl']).toBe(63);
      expect(ttl('node-b/flannel.1')['ip.ttl']).toBe(63);
      expect(ttl('pod/default/server/eth0')['ip.ttl']).toBe(62);
      for (const iface of ['node-a/flannel.1', 'node-b/flannel.1'])
        expect(run.frames[iface]!.filter((f) => f.eth.type === 0x0806)).toEqual([]);
      // The echo reply leaves the server with DF clear.
      const reply = frames('pod/default/server/eth0').find((f) => f['icmp.type'] === 0)!;
      expect(reply).toMatchObject({ 'ip.flags.df': false, 'ip.ttl': 64 });
    });

    it('TCP across the overlay: the SYN and SYN-ACK advertise MSS 1410 (1450 - 40)', () => {
      expect(run.sends[4]!.code).toBe(0);
      const syns = frames('pod/default/server/eth0').filter((f) => ((f['tcp.flags'] as number) & 0x02) !== 0);
      expect(syns.map((f) => [f['tcp.flags'], f['tcp.options.mss_val'], f['tcp.srcport']])).toEqual([
        [0x02, 1410, 40000],
        [0x12, 1410, 8080],
      ]);
      // Windows: the largest multiple of the MSS up to 65535 (SYN), of MSS - 12 for timestamps (SYN-ACK).
      expect(syns.map((f) => f['tcp.window_size_value'])).toEqual([46 * 1410, 46 * 1398]);
    });

    it('UDP: 100 bytes from port 40001 arrive as a 128-byte datagram and come back', () => {
      expect(run.sends[5]!.code).toBe(0);
      const udp = frames('pod/default/server/eth0').filter((f) => f['ip.proto'] === 17);
      expect(udp.map((f) => [f['udp.srcport'], f['udp.dstport'], f['ip.len'], f['udp.length']])).toEqual([
        [40001, 5000, 128, 108],
        [5000, 40001, 128, 108],
      ]);
    });

    it('a pod at MTU 1500 over the 1450 overlay: the node answers frag-needed from the gateway, mtu 1450', () => {
      expect(run.sends[3]!.code).not.toBe(0);
      expect(run.sends[3]!.output).toMatch(
        /From 10\.244\.1\.1 icmp_seq=1 Frag needed and DF set \(mtu = 1450\)/,
      );
      const seen = frames('pod/default/big/eth0');
      expect(seen.map((f) => [f['icmp.type'], f['icmp.code']])).toEqual([
        [8, 0],
        [3, 4],
      ]);
      expect(seen[1]).toMatchObject({
        'ip.src': '10.244.1.1',
        'ip.dst': '10.244.1.3',
        'ip.ttl': 64,
        'ip.flags.df': false,
        'ip.dsfield.dscp': 48,
        'ip.len': 576,
        'icmp.mtu': 1450,
        'quote.ip.len': 1500,
        'quote.icmp.quoted_len': ICMP_QUOTE_MAX,
      });
      // Dropped on node-a: nothing of it crossed the underlay.
      expect(frames('node-a/eth0').filter((f) => f['inner.ip.src'] === '10.244.1.3')).toEqual([]);
    });

    it('netmodel/pcap builds the same frag-needed exchange: compareCaptures finds no difference', () => {
      const real = run.frames['pod/default/big/eth0']!.filter(sentTraffic);
      const request = real[0]!;
      const emulated = [
        request,
        icmpFragNeeded({
          original: request,
          srcMac: '0a:58:0a:f4:01:01',
          dstMac: '0a:58:0a:f4:01:03',
          from: '10.244.1.1',
          mtu: 1450,
        }),
      ];
      expect(compareCaptures({ big: real }, { big: emulated })).toEqual([]);
      // And byte for byte, except the IP id the kernel chose.
      const built = encodeFrame({ ...emulated[1]!, ipv4: { ...emulated[1]!.ipv4!, id: real[1]!.ipv4!.id } });
      const rawError = run.raw['pod/default/big/eth0']!.find((b) => b[12] === 0x08 && b[34] === 3)!;
      expect(Buffer.from(built).toString('hex')).toBe(Buffer.from(rawError).toString('hex'));
    });

    it('the 1422-byte ping built hop by hop with netmodel/pcap matches the capture on every interface', () => {
      const mac = {
        client: '0a:58:0a:f4:01:02',
        cni0A: '0a:58:0a:f4:01:01',
        flA: '42:00:0a:f4:01:00',
        ethA: '02:00:0a:00:00:0b',
        ethB: '02:00:0a:00:00:0c',
        flB: '42:00:0a:f4:02:00',
        cni0B: '0a:58:0a:f4:02:01',
        server: '0a:58:0a:f4:02:02',
      };
      const client = parseIP('10.244.1.2');
      const server = parseIP('10.244.2.2');
      const req = packet({
        proto: 'icmp',
        src: client,
        dst: server,
        icmp: { type: 8, code: 0, id: 1 },
        length: 1450,
      });
      const rep = packet({
        proto: 'icmp',
        src: server,
        dst: client,
        icmp: { type: 0, code: 0, id: 1 },
        length: 1450,
      });
      const hop = (p: typeof req, srcMac: string, dstMac: string, ttl: number) =>
        frameFromPacket(p, { srcMac, dstMac, ttl });
      const encap = (inner: Frame, fromA: boolean) =>
        vxlanEncapsulate(inner, {
          srcMac: fromA ? mac.ethA : mac.ethB,
          dstMac: fromA ? mac.ethB : mac.ethA,
          src: fromA ? '10.0.0.11' : '10.0.0.12',
          dst: fromA ? '10.0.0.12' : '10.0.0.11',
          vni: 1,
          sport: udpFlowSrcPort(vxlanFlowHash(inner)),
        });
      const reqFlannel = hop(req, mac.flA, mac.flB, 63);
      const repFlannel = hop(rep, mac.flB, mac.flA, 63);
      const emulated: Record<string, Frame[]> = {
        'pod/default/client/eth0': [hop(req, mac.client, mac.cni0A, 64), hop(rep, mac.cni0A, mac.client, 62)],
        'node-a/flannel.1': [reqFlannel, repFlannel],
        'node-a/eth0': [encap(reqFlannel, true), encap(repFlannel, false)],
        'node-b/flannel.1': [reqFlannel, repFlannel],
        'pod/default/server/eth0': [hop(req, mac.cni0B, mac.server, 62), hop(rep, mac.server, mac.cni0B, 64)],
      };
      const real: Record<string, DecodedFrame[]> = {};
      for (const name of Object.keys(emulated))
        real[name] = run.frames[name]!.filter(sentTraffic).slice(0, 2);
      expect(compareCaptures(real, emulated)).toEqual([]);
    });

    it('re-encoding every captured frame gives the kernel`s bytes, except the TCP/UDP checksums veth leaves partial (offload)', () => {
      let exact = 0;
      const bad: string[] = [];
      for (const [iface, list] of Object.entries(run.raw)) {
        list.forEach((bytes, i) => {
          const f = run.frames[iface]![i]!;
          const inner = f.inner ?? f;
          const base = f.inner ? 50 : 0;
          const ihl = 14 + (inner.ipv4 ? 20 : 0);
          const csum = inner.tcp ? base + ihl + 16 : inner.udp ? base + ihl + 6 : -1;
          const problems = checkFrame(bytes);
          for (const p of problems) {
            const o = Number(/^offset (\d+):/.exec(p)?.[1] ?? -1);
            const outerUdp = f.inner !== undefined && (o === 40 || o === 41);
            if (o !== csum && o !== csum + 1 && !outerUdp) bad.push(`${iface} #${i + 1}: ${p}`);
          }
          if (problems.length === 0) exact++;
        });
      }
      expect(bad).toEqual([]);
      expect(exact).toBeGreaterThan(20);
    });
  },
);
