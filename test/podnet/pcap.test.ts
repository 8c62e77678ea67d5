/**
 * `kpath trace --pcap`: every frame of the followed packet and its reply, on every interface it
 * crosses, in a pcapng file that tshark reads with no malformed frame and no expert warning, good
 * checksums, the interfaces named NODE/DEVICE and pod/NS/NAME/eth0, and the VXLAN outer headers on
 * the underlay.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { decodePcapng, framesByInterface } from '../../netmodel/pcap/index.js';
import { tsharkExpert, tsharkFields, tsharkMissing } from '../pcap/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'kpath-podnet-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function kpath(...argv: string[]) {
  const io = bufferIO(dir);
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

interface PodList {
  items: { metadata: { name: string }; spec: { nodeName: string }; status: { podIP: string } }[];
}

/** A web pod on another node than the client (worker-1), so the path crosses the overlay; and the client's IP. */
async function remoteWeb(): Promise<{ web: string; clientIp: string }> {
  const r = await kpath('get', 'pods', '-o', 'json');
  const pods = JSON.parse(r.out) as PodList;
  const web = pods.items.find((p) => p.metadata.name.startsWith('web-') && p.spec.nodeName !== 'worker-1')!;
  const client = pods.items.find((p) => p.metadata.name === 'client')!;
  return { web: web.metadata.name, clientIp: client.status.podIP };
}

describe('kpath trace --pcap (the demo, flannel vxlan)', () => {
  it('a TCP SYN to a remote web pod and its SYN-ACK, frame by frame', async () => {
    const { web, clientIp } = await remoteWeb();
    const file = join(dir, 'syn.pcapng');
    const r = await kpath(
      'trace',
      '--from',
      'pod/default/client',
      '--to',
      `pod/default/${web}:8080`,
      '--pcap',
      file,
    );
    expect(r.code, r.err).toBe(0);
    const cap = decodePcapng(readFileSync(file));
    const names = cap.interfaces.map((i) => i.name);
    expect(names[0]).toBe('pod/default/client/eth0');
    expect(names).toContain('worker-1/flannel.1');
    expect(names).toContain('worker-1/eth0');
    expect(names).toContain(`pod/default/${web}/eth0`);
    const all = framesByInterface(cap);
    // Every trace starts from fresh kernels: the client ARPs for its gateway before the first frame,
    // and worker-1 for the other node's address on the underlay (request, then the reply).
    const arp = (iface: string) =>
      all[iface]!.filter((f) => f.arp).map((f) => [f.arp!.op, f.arp!.senderIp, f.arp!.targetIp]);
    expect(arp('pod/default/client/eth0')).toEqual([
      [1, clientIp, '10.244.1.1'],
      [2, '10.244.1.1', clientIp],
    ]);
    expect(arp('worker-1/eth0')[0]).toEqual([1, '10.0.0.12', expect.stringMatching(/^10\.0\.0\.1[13]$/)]);
    const byIf = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.filter((f) => !f.arp)]));
    const underlay = byIf['worker-1/eth0']!;
    expect(underlay[0]!.udp?.dport).toBe(8472);
    expect(underlay[0]!.vxlan?.vni).toBe(1);
    expect(underlay[0]!.inner?.tcp?.flags.syn).toBe(true);
    // The SYN-ACK acknowledges the SYN's sequence number + 1.
    const syn = byIf['pod/default/client/eth0']![0]!.tcp!;
    const synAck = byIf['pod/default/client/eth0']![1]!.tcp!;
    expect(synAck.flags.ack).toBe(true);
    expect(synAck.ack).toBe((syn.seq + 1) >>> 0);
    // MSS from the pod's MTU: 1450 - 40.
    expect(syn.options).toContainEqual({ kind: 'mss', mss: 1410 });
  });

  const missing = tsharkMissing();
  it.skipIf(missing !== undefined)(
    `tshark: no malformed frame, no warning, good checksums${missing ? ` (skipped: ${missing})` : ''}`,
    async () => {
      const { web } = await remoteWeb();
      for (const [name, args] of [
        ['ping', ['--proto', 'icmp']],
        ['frag', ['--proto', 'icmp', '--size', '3000']],
        ['udp', ['--proto', 'udp', '--size', '100']],
      ] as const) {
        const file = join(dir, `${name}.pcapng`);
        const r = await kpath(
          'trace',
          '--from',
          'pod/default/client',
          '--to',
          `pod/default/${web}:8080`,
          ...args,
          '--pcap',
          file,
        );
        expect(r.code, r.err).toBe(0);
        const expert = tsharkExpert(file, ['-o', 'tcp.analyze_sequence_numbers:FALSE']);
        expect(expert.Errors ?? [], name).toEqual([]);
        expect(expert.Warns ?? [], name).toEqual([]);
        const rows = tsharkFields(file, [
          'frame.interface_name',
          'ip.checksum.status',
          'udp.checksum.status',
          'icmp.checksum.status',
        ]);
        for (const row of rows)
          for (const col of row.slice(1))
            for (const v of col) expect(v, `${name}: ${row[0]} (1 = good)`).toBe('1');
      }
    },
  );
});
