/** Traffic through the userspace proxy: round-robin, SNAT to the node, NodePorts, affinity, reject, UDP, half-close, admin. */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as affinityCmd from '../../cli/commands/affinity.js';
import * as conntrackCmd from '../../cli/commands/conntrack.js';
import * as endpointsCmd from '../../cli/commands/endpoints.js';
import { bufferIO } from '../../cli/io.js';
import { ManualClock } from '../../netmodel/clock.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import {
  addrs,
  baseCluster,
  dial,
  echoDeployment,
  ending,
  get,
  getJSON,
  service,
  up,
  waitFor,
  writeCluster,
} from './helpers.js';

const SLOT = 2;
const a = addrs(SLOT);
const clock = new ManualClock(1_000_000);

const yaml = baseCluster(
  SLOT,
  echoDeployment('web', 3, 8080, { udp: true }) +
    service('web', { ip: a.svcIP(20), port: 8000 }) +
    service('web-np', {
      ip: a.svcIP(21),
      port: 8001,
      type: 'NodePort',
      nodePort: a.nodePort(80),
      selector: 'web',
    }) +
    service('sticky', { ip: a.svcIP(22), port: 8002, affinity: 30, selector: 'web' }) +
    service('nobody', { ip: a.svcIP(23), port: 8003, selector: 'nothing' }) +
    service('web-udp', { ip: a.svcIP(24), port: 8053, udp: true, selector: 'web' }),
);

/** The `kpath conntrack -p tcp` line that contains `needle`, if any. */
async function conntrackLine(rt: Runtime, needle: string): Promise<string | undefined> {
  const out = bufferIO();
  await conntrackCmd.run({ admin: rt.addresses().metrics!, proto: 'tcp' }, out);
  return out
    .stdout()
    .split('\n')
    .find((l) => l.includes(needle));
}

describe('kpath up, userspace mode', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await up({ files: [writeCluster(yaml).file], clock, node: 'node-a' });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('spreads GETs through the cluster IP twin across all pods, round-robin', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const pod = String((await get(a.svcTwin(20), 8000)).json().pod);
      seen.set(pod, (seen.get(pod) ?? 0) + 1);
    }
    expect([...seen.values()]).toEqual([3, 3, 3]);
  });

  it('backends see the entry node address (userspace proxies from the node)', async () => {
    // From 127.0.0.1: a process on the default node (node-a).
    const r = (await get(a.svcTwin(20), 8000)).json();
    expect(String(r.client).split(':')[0]).toBe(a.nodeIP(11));
    expect(String(r.clientLoopback).split(':')[0]).toBe(a.nodeTwin(11));
    // From a pod's twin on node-b: its own node is the entry node, so the backend sees node-b.
    const pods = rt.pods();
    const onB = pods.find((p) => p.node === 'node-b')!;
    const r2 = (await get(a.svcTwin(20), 8000, '/', onB.loopbackIP)).json();
    expect(String(r2.client).split(':')[0]).toBe(a.nodeIP(12));
  });

  it('NodePort answers on 127.0.0.1 and on every node twin, from that node', async () => {
    const local = (await get('127.0.0.1', a.nodePort(80))).json();
    expect(String(local.client).split(':')[0]).toBe(a.nodeIP(11));
    const viaB = (await get(a.nodeTwin(12), a.nodePort(80))).json();
    expect(String(viaB.client).split(':')[0]).toBe(a.nodeIP(12));
    const viaA = (await get(a.nodeTwin(11), a.nodePort(80))).json();
    expect(String(viaA.client).split(':')[0]).toBe(a.nodeIP(11));
  });

  it('ClientIP affinity keeps a client on one pod until the timeout, then may move', async () => {
    const from = `127.${200 + SLOT}.9.9`; // an address that twins no pod or node: a client outside the cluster
    const first = String((await get(a.svcTwin(22), 8002, '/', from)).json().pod);
    for (let i = 0; i < 5; i++)
      expect(String((await get(a.svcTwin(22), 8002, '/', from)).json().pod)).toBe(first);
    const other = String((await get(a.svcTwin(22), 8002, '/', '127.0.0.1')).json().pod);
    expect(other).not.toBe(first); // a different client takes the next endpoint in the rotation
    const aff = (await getJSON(rt.addresses().metrics!, '/api/v1/affinity')).entries as {
      clientIP: string;
      remainingMs: number;
    }[];
    expect(aff.find((e) => e.clientIP === `10.${200 + SLOT}.9.9`)?.remainingMs).toBe(30_000);
    clock.advance(29_000);
    expect(String((await get(a.svcTwin(22), 8002, '/', from)).json().pod)).toBe(first); // refreshed by use
    clock.advance(31_000);
    const after = new Set<string>();
    for (let i = 0; i < 3; i++) {
      clock.advance(31_000);
      after.add(String((await get(a.svcTwin(22), 8002, '/', from)).json().pod));
    }
    expect(after.size).toBeGreaterThan(1);

    const io = bufferIO();
    expect(await affinityCmd.run({ admin: rt.addresses().metrics! }, io)).toBe(0);
    expect(io.stdout()).toMatch(/^SERVICE\s+CLIENT\s+ENDPOINT\s+EXPIRES-IN/);
    expect(io.stdout()).toContain('default/sticky:http');
  });

  it('a service without endpoints resets the client at once', async () => {
    const t0 = Date.now();
    // The reset can beat the client's own connect callback on loopback.
    const how = await dial(a.svcTwin(23), 8003).then(ending, (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' ? 'reset' : e.code,
    );
    expect(how).toBe('reset');
    expect(Date.now() - t0).toBeLessThan(200);
    const m = await get(
      ...((rt.addresses().metrics!.split(':') as [string, string]).map((x, i) => (i ? Number(x) : x)) as [
        string,
        number,
      ]),
      '/metrics',
    );
    expect(m.body).toMatch(
      /kpath_proxy_verdicts_total\{service="default\/nobody:http",verdict="reject"\} [1-9]/,
    );
  });

  it('UDP echo through a service, replies to the right client', async () => {
    const clients = [createSocket('udp4'), createSocket('udp4')];
    const replies = await Promise.all(
      clients.map(
        (c, i) =>
          new Promise<string>((resolve, reject) => {
            c.once('message', (m) => resolve(m.toString()));
            c.once('error', reject);
            c.send(`hello ${i}`, 8053, a.svcTwin(24));
          }),
      ),
    );
    expect(replies).toEqual(['hello 0', 'hello 1']);
    const who = await new Promise<string>((resolve) => {
      clients[0]!.once('message', (m) => resolve(m.toString()));
      clients[0]!.send('whoami', 8053, a.svcTwin(24));
    });
    expect(JSON.parse(who).client).toMatch(new RegExp(`^${a.nodeIP(11).replace(/\./g, '\\.')}:`));
    const ct = await getJSON(rt.addresses().metrics!, '/api/v1/conntrack');
    expect((ct.entries as { protocol: string }[]).some((e) => e.protocol === 'udp')).toBe(true);
    for (const c of clients) c.close();
  });

  it('passes a half-close through: the client ends its side and still reads the echo', async () => {
    const s = await dial(a.svcTwin(20), 8000);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    const done = ending(s);
    s.write('ping-');
    s.end('pong');
    expect(await done).toBe('end');
    expect(Buffer.concat(chunks).toString()).toBe('ping-pong');
  });

  it('lists live connections in conntrack -L format and as JSON', async () => {
    const s = await dial(a.svcTwin(20), 8000, `127.${200 + SLOT}.9.10`);
    s.write('x');
    await new Promise((r) => s.once('data', r));
    const io = bufferIO();
    expect(await conntrackCmd.run({ admin: rt.addresses().metrics!, proto: 'tcp' }, io)).toBe(0);
    const line = io
      .stdout()
      .split('\n')
      .find((l) => l.includes(`src=10.${200 + SLOT}.9.10`));
    // Linux's default nf_conntrack_acct=0: conntrack -L prints no packets=/bytes= (conntrack-tools'
    // snprintf_default.c prints counters only when the entry has the acct extension).
    expect(line).toMatch(
      new RegExp(
        `^tcp      6 \\d+ ESTABLISHED src=10\\.${200 + SLOT}\\.9\\.10 dst=${a.svcIP(20).replace(/\./g, '\\.')} sport=\\d+ dport=8000 src=10\\.${200 + SLOT}\\.\\d+\\.\\d+ dst=${a.nodeIP(11).replace(/\./g, '\\.')} sport=8080 dport=\\d+ \\[ASSURED\\] mark=0 use=1$`,
      ),
    );
    expect(io.stderr()).toMatch(/flow entries have been shown/);
    const json = bufferIO();
    await conntrackCmd.run({ admin: rt.addresses().metrics!, output: 'json' }, json);
    const listing = JSON.parse(json.stdout());
    expect(listing.acct).toBe(false);
    const mine = listing.entries.find(
      (e: { original: { src: string } }) => e.original.src === `10.${200 + SLOT}.9.10`,
    );
    expect(mine.service).toBe('default/web:http');
    // Without accounting the JSON keeps kpath's own payload byte counts, and no packets.
    expect(mine.original).toEqual({
      src: `10.${200 + SLOT}.9.10`,
      dst: a.svcIP(20),
      sport: s.localPort,
      dport: 8000,
      bytes: 1,
    });
    expect(mine.reply.bytes).toBe(1);
    s.destroy();
    await waitFor(
      () => !rt.conntrack.list().some((e) => e.original.src === `10.${200 + SLOT}.9.10`),
      'entry removed',
    );
    // Ended, the entry ages out as the kernel's would: TIME_WAIT for 120 s after both FINs.
    const listed = () => conntrackLine(rt, `src=10.${200 + SLOT}.9.10`);
    expect(await listed()).toMatch(/^tcp {6}6 120 TIME_WAIT src=/);
    clock.advance(60_000);
    expect(await listed()).toMatch(/^tcp {6}6 60 TIME_WAIT src=/);
    clock.advance(61_000);
    expect(await listed()).toBeUndefined();
  });

  it('a reset connection ages out as CLOSE (10 s)', async () => {
    const s = await dial(a.svcTwin(20), 8000, `127.${200 + SLOT}.9.11`);
    s.write('x');
    await new Promise((r) => s.once('data', r));
    s.resetAndDestroy();
    await waitFor(
      () => !rt.conntrack.list().some((e) => e.original.src === `10.${200 + SLOT}.9.11`),
      'entry removed',
    );
    const listed = () => conntrackLine(rt, `src=10.${200 + SLOT}.9.11`);
    expect(await listed()).toMatch(/^tcp {6}6 10 CLOSE src=/);
    clock.advance(11_000);
    expect(await listed()).toBeUndefined();
  });

  it('serves /healthz, /metrics and `kpath endpoints`', async () => {
    const h = await getJSON(rt.addresses().health!, '/healthz');
    expect(h).toHaveProperty('lastUpdated');
    expect(h.nodeEligible).toBe(true);
    const [mh, mp] = rt.addresses().metrics!.split(':');
    const m = await get(mh!, Number(mp), '/metrics');
    expect(m.body).toContain('kpath_proxy_connections_total{service="default/web:http"');
    expect(m.body).toContain('kubeproxy_sync_proxy_rules_duration_seconds_count');
    const io = bufferIO();
    expect(await endpointsCmd.run({ admin: rt.addresses().metrics!, service: 'web' }, io)).toBe(0);
    expect(io.stdout()).toMatch(/default\/web:http\s+TCP\s+None\s+10\.\d+\.\d+\.\d+:8080,.*,.*\s+-\s+>?10\./);
  });
});
