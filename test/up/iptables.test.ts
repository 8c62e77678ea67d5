/**
 * kpath up in iptables mode: each connection is decided by the entry node's emulated kernel running
 * the rules kube-proxy writes, and what the backend sees is what the emulated SNAT decided.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../netmodel/clock.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import { addrs, baseCluster, echoDeployment, get, service, up, writeCluster } from './helpers.js';

const SLOT = 8;
const a = addrs(SLOT);
const clock = new ManualClock(5_000_000);

const yaml = baseCluster(
  SLOT,
  `${echoDeployment('web', 4)}${service('web', { ip: a.svcIP(20), port: 8000 })}${service('sticky', {
    ip: a.svcIP(21),
    port: 8001,
    selector: 'web',
    affinity: 30,
  })}${service('empty', { ip: a.svcIP(22), port: 8002, selector: 'nothing' })}${service('np', {
    ip: a.svcIP(23),
    port: 8003,
    selector: 'web',
    type: 'NodePort',
    nodePort: a.nodePort(3),
  })}`,
  'iptables',
);

describe('kpath up --mode iptables (the emulated kernel decides every connection)', () => {
  let rt: Runtime;
  let podTwins: string[];
  beforeAll(async () => {
    rt = await up({ files: [writeCluster(yaml).file], clock, node: 'node-a', watch: false });
    podTwins = rt.pods().map((p) => p.loopbackIP);
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('runs in iptables mode', () => {
    expect(rt.mode?.name).toBe('iptables');
  });

  it('a pod reaching a ClusterIP keeps its own address (no masquerade); connections spread across pods', async () => {
    const client = podTwins.find((t) => t.startsWith(`127.${200 + SLOT}.1.`))!;
    const seen = new Set<string>();
    const own = client.replace(/^127\./, '10.');
    for (let i = 0; i < 40; i++) {
      const r = (await get(a.svcTwin(20), 8000, '/', client)).json();
      seen.add(String(r.pod));
      // A pod that reaches itself through the service is masqueraded (KUBE-SEP's hairpin rule) to the
      // bridge address; every other pod sees the client's own address.
      const hairpin = r.podIP === own;
      expect(String(r.client).split(':')[0]).toBe(hairpin ? `10.${200 + SLOT}.1.1` : own);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('a process on the node is masqueraded: the backend sees a node address', async () => {
    const r = (await get(a.svcTwin(20), 8000, '/')).json();
    const from = String(r.client).split(':')[0]!;
    // Out of eth0 the node's InternalIP; to a pod on this node out of cni0, the bridge's address.
    expect([a.nodeIP(11), `10.${200 + SLOT}.1.1`]).toContain(from);
  });

  it('ClientIP affinity (the recent match) keeps a client on one pod until the timeout', async () => {
    const client = podTwins.find((t) => t.startsWith(`127.${200 + SLOT}.1.`))!;
    const first = String((await get(a.svcTwin(21), 8001, '/', client)).json().pod);
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      expect(String((await get(a.svcTwin(21), 8001, '/', client)).json().pod)).toBe(first);
    }
    const aff = rt.mode!.affinity();
    expect(
      aff.some(
        (e) => e.servicePort === 'default/sticky:http' && e.clientIP === client.replace(/^127\./, '10.'),
      ),
    ).toBe(true);
    clock.advance(31_000);
    const pods = new Set<string>();
    for (let i = 0; i < 30; i++) {
      pods.add(String((await get(a.svcTwin(21), 8001, '/', client)).json().pod));
      clock.advance(31_000);
    }
    expect(pods.size).toBeGreaterThan(1);
  });

  it('a service without endpoints is REJECTed: the client is reset at once', async () => {
    const t0 = Date.now();
    await expect(get(a.svcTwin(22), 8002, '/')).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|ECONNREFUSED|EPIPE/),
    });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('NodePort on a node twin and on 127.0.0.1 (localhost NodePort, masqueraded)', async () => {
    const r1 = (await get(a.nodeTwin(12), a.nodePort(3), '/')).json();
    expect(r1.pod).toBeTruthy();
    const r2 = (await get('127.0.0.1', a.nodePort(3), '/')).json();
    expect(r2.pod).toBeTruthy();
    expect(String(r2.client)).not.toMatch(/^127\./);
  });

  it('the emulated conntrack of the entry node holds the flows', () => {
    const mode = rt.mode as unknown as {
      dp: { node(n: string): { conntrack: { entries(now: number): { tcpState?: string }[] } } };
    };
    const entries = mode.dp.node('node-a').conntrack.entries(clock.now());
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.some((e) => e.tcpState === 'ESTABLISHED')).toBe(true);
  });

  it('closed flows leave the emulated tables once expired (the conntrack gc the runtime runs)', () => {
    const mode = rt.mode as unknown as {
      dp: { node(n: string): { conntrack: { size: number; entries(now: number): unknown[] } } };
    };
    const ct = mode.dp.node('node-a').conntrack;
    const before = ct.size;
    clock.advance(121_000); // past TIME_WAIT (nf_conntrack_tcp_timeout_time_wait = 120 s)
    const live = ct.entries(clock.now()).length;
    expect(live).toBeLessThan(before);
    expect(ct.size).toBe(before); // expired entries stay until a gc or a lookup removes them
    rt.mode!.housekeeping!(clock.now());
    expect(ct.size).toBe(live);
  });
});
