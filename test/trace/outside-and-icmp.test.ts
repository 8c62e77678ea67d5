/**
 * Two trace facts about the bundled demo (flannel vxlan, client on worker-1):
 * - a packet from an outside `--src` arrives with the TTL its host sent (ip_default_ttl 64) and every
 *   forwarding node decrements it (net/ipv4/ip_forward.c, ip_decrease_ttl), so the pod it reaches
 *   sees 64 minus the nodes crossed;
 * - an ICMP echo has no ports: its conntrack tuple keeps the echo id in both directions, which is no
 *   NAT, so a pod-to-pod ping reports no DNAT and no SNAT; a masqueraded one names the address and
 *   the echo id it got, never a port.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { decodePcapng, framesByInterface } from '../../netmodel/pcap/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kpath-trace-ttl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function kpath(...argv: string[]) {
  const io = bufferIO(dir);
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

interface PodList {
  items: { metadata: { name: string }; spec: { nodeName: string }; status: { podIP: string } }[];
}

async function pods(): Promise<PodList['items']> {
  const r = await kpath('get', 'pods', '-o', 'json');
  return (JSON.parse(r.out) as PodList).items;
}

describe('an outside --src: TTL 64 on arrival, minus one per forwarding node', () => {
  /** The TTL of the first TCP frame the web pod's eth0 sees. */
  async function ttlAtPod(name: string, dst: string): Promise<{ ttl: number; at: string }> {
    const file = join(dir, `${name}.pcapng`);
    const r = await kpath('trace', '--node', 'worker-1', '--src', '10.0.0.99', '--dst', dst, '--pcap', file);
    expect(r.code, r.err).toBe(0);
    const all = framesByInterface(decodePcapng(readFileSync(file)));
    for (const [at, frames] of Object.entries(all)) {
      if (!/^pod\/default\/web-/.test(at)) continue;
      const tcp = frames.find((f) => f.ipv4?.protocol === 6 || f.inner?.ipv4?.protocol === 6);
      if (tcp?.ipv4) return { ttl: tcp.ipv4.ttl, at };
    }
    throw new Error(`no TCP frame on a web pod: ${Object.keys(all).join(' ')}`);
  }

  it('to the NodePort on worker-1 (10.0.0.12, externalTrafficPolicy Local): worker-1 forwards once, 63', async () => {
    expect(await ttlAtPod('nodeport', '10.0.0.12:30080')).toMatchObject({ ttl: 63 });
  });

  it('to a pod on worker-2 through worker-1: worker-1 and worker-2 each forward, 62', async () => {
    const web = (await pods()).find(
      (p) => p.metadata.name.startsWith('web-') && p.spec.nodeName === 'worker-2',
    )!;
    expect(await ttlAtPod('overlay', `${web.status.podIP}:8080`)).toEqual({
      ttl: 62,
      at: `pod/default/${web.metadata.name}/eth0`,
    });
  });
});

describe('ICMP in the trace summary: NAT only when the walk changed an address or the echo id', () => {
  it('pod to pod across nodes: no DNAT, no SNAT, no ports', async () => {
    const web = (await pods()).find(
      (p) => p.metadata.name.startsWith('web-') && p.spec.nodeName === 'worker-2',
    )!;
    const args = ['trace', '--from', 'pod/default/client', '--to', `pod/default/${web.metadata.name}:8080`];
    const json = await kpath(...args, '--proto', 'icmp', '--no-follow', '-o', 'json');
    expect(json.code, json.err).toBe(0);
    const o = JSON.parse(json.out).outcomes[0];
    expect({ dnat: o.dnat, snat: o.snat, masquerade: o.masquerade }).toEqual({
      dnat: null,
      snat: null,
      masquerade: false,
    });
    const text = await kpath(...args, '--proto', 'icmp');
    expect(text.code, text.err).toBe(0);
    expect(text.out).not.toMatch(/DNAT to|SNAT to/);
    expect(text.out).toMatch(/^ {2}no DNAT; not masqueraded: the destination sees 10\.244\.1\.\d+$/m);
    expect(text.out).toMatch(/^ {2}packet after this node: icmp 10\.244\.1\.\d+ -> 10\.244\.2\.\d+$/m);
  });

  it('pod to a service address off the cluster route: masqueraded to the node, with the echo id it got', async () => {
    const r = await kpath(
      'trace',
      '--from',
      'pod/default/client',
      '--to',
      'svc/shop/cart',
      '--proto',
      'icmp',
      '--no-follow',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^ {2}no DNAT; masqueraded to 10\.0\.0\.12 \(echo id 43210 -> \d+\): /m);
    expect(r.out).not.toMatch(/(DNAT|SNAT|masqueraded) to [\d.]+:\d+/);
  });
});
