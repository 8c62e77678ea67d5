/**
 * kpath up --mode ipvs: every connection is decided by the entry node's emulated IPVS, programmed by
 * kube-proxy's ipvs proxier (virtual servers on the service addresses, real servers with weight 1,
 * persistence for ClientIP affinity) and masqueraded by its iptables rules; what the backend sees is
 * what the emulated kernel decided.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { ManualClock } from '../../netmodel/clock.js';
import type { IpvsTable } from '../../netmodel/ipvs/index.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import {
  addrs,
  baseCluster,
  dial,
  echoDeployment,
  get,
  service,
  up,
  waitFor,
  writeCluster,
} from './helpers.js';

function ipvsCluster(slot: number, scheduler: string, extra: string): string {
  return baseCluster(slot, extra, 'ipvs').replace(
    'mode: ipvs\n',
    `mode: ipvs\nipvs:\n  scheduler: ${scheduler}\n`,
  );
}

function ipvsOf(rt: Runtime, node: string): IpvsTable {
  const mode = rt.mode as unknown as { dp: { node(n: string): { ipvs?: IpvsTable } } };
  return mode.dp.node(node).ipvs!;
}

describe('kpath up --mode ipvs, rr (the emulated IPVS decides every connection)', () => {
  const SLOT = 50;
  const a = addrs(SLOT);
  const clock = new ManualClock(7_000_000);
  const yaml = ipvsCluster(
    SLOT,
    'rr',
    `${echoDeployment('web', 3)}${service('web', { ip: a.svcIP(20), port: 8000 })}${service('sticky', {
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
  );
  let rt: Runtime;
  let client: string;
  beforeAll(async () => {
    rt = await up({ files: [writeCluster(yaml).file], clock, node: 'node-a', watch: false });
    client = rt
      .pods()
      .map((p) => p.loopbackIP)
      .find((t) => t.startsWith(`127.${200 + SLOT}.1.`))!;
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('runs in ipvs mode with a virtual server per service address', () => {
    expect(rt.mode?.name).toBe('ipvs');
    const t = ipvsOf(rt, 'node-a');
    const vips = t.specs().map((s) => `${s.vip.text}:${s.port}`);
    expect(vips).toContain(`${a.svcIP(20)}:8000`);
    expect(vips).toContain(`${a.nodeIP(11)}:${a.nodePort(3)}`);
    // A service without endpoints still has its virtual server, with no real servers.
    expect(t.specs().find((s) => s.vip.text === a.svcIP(22))?.destinations).toEqual([]);
  });

  it('rr: consecutive connections go round the real servers in the kernel list order', async () => {
    const pods: string[] = [];
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await get(a.svcTwin(20), 8000, '/', client);
      pods.push(String(r.json().pod));
      ports.push(r.localPort);
    }
    // rr visits every real server once per round, in the same order each round.
    expect(new Set(pods.slice(0, 3)).size).toBe(3);
    expect(pods.slice(3)).toEqual(pods.slice(0, 3));
    // The kernel's connection table holds them, one per client port (the kernel may hand a client
    // port out again: that SYN replaces its TIME_WAIT entry, the next test), with the real server
    // the backend answered from.
    const mine = () =>
      ipvsOf(rt, 'node-a')
        .conns.list()
        .filter((c) => !c.template && c.vport === 8000 && c.caddr.text === client.replace(/^127\./, '10.'));
    // Each connection's close walks after its reply has reached the client.
    await waitFor(() => mine().every((c) => c.state === 'TIME_WAIT'), 'every connection closed');
    expect(new Set(mine().map((c) => c.cport))).toEqual(new Set(ports));
  });

  it('a client port used again: its SYN on the TIME_WAIT entry is scheduled anew (conn_reuse_mode)', async () => {
    const port = 40_000 + (process.pid % 20_000);
    const mine = () =>
      ipvsOf(rt, 'node-a')
        .conns.list()
        .filter((c) => !c.template && c.vport === 8000 && c.cport === port);
    const first = await get(a.svcTwin(20), 8000, '/', client, port);
    expect(first.localPort).toBe(port);
    const old = await waitFor(() => mine().find((c) => c.state === 'TIME_WAIT'), 'the first closed');
    const again = await get(a.svcTwin(20), 8000, '/', client, port);
    expect(again.localPort).toBe(port);
    // ip_vs_in: the old entry is expired at once and rr schedules the SYN: a new entry, the next
    // real server in the list.
    const now = mine();
    expect(now.map((c) => c.id)).toHaveLength(1);
    expect(now[0]!.id).toBeGreaterThan(old.id);
    expect(String(again.json().pod)).not.toBe(String(first.json().pod));
  });

  it('ClientIP affinity is IPVS persistence: one client stays on one pod until the template expires', async () => {
    const first = String((await get(a.svcTwin(21), 8001, '/', client)).json().pod);
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      expect(String((await get(a.svcTwin(21), 8001, '/', client)).json().pod)).toBe(first);
    }
    const aff = rt.mode!.affinity();
    expect(
      aff.some(
        (e) => e.servicePort === 'default/sticky:http' && e.clientIP === client.replace(/^127\./, '10.'),
      ),
    ).toBe(true);
  });

  it('a pod client keeps its address; a node process is masqueraded by KUBE-POSTROUTING', async () => {
    const r = (await get(a.svcTwin(20), 8000, '/', client)).json();
    const own = client.replace(/^127\./, '10.');
    const from = String(r.client).split(':')[0];
    expect(r.podIP === own ? `10.${200 + SLOT}.1.1` : own).toBe(from);
    const n = (await get(a.svcTwin(20), 8000, '/')).json();
    expect([a.nodeIP(11), `10.${200 + SLOT}.1.1`]).toContain(String(n.client).split(':')[0]);
  });

  it('a virtual server without real servers: the client is refused (nothing to schedule)', async () => {
    await expect(get(a.svcTwin(22), 8002, '/')).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|ECONNREFUSED|EPIPE/),
    });
  });

  it('NodePort on the node address; not on 127.0.0.1 (kube-proxy gives loopback no virtual server in ipvs mode)', async () => {
    const r = (await get(a.nodeTwin(11), a.nodePort(3), '/')).json();
    expect(r.pod).toBeTruthy();
    await expect(get('127.0.0.1', a.nodePort(3), '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('kpath ipvs --live prints the running kernel: ipvsadm -Ln counters and -Lnc connections', async () => {
    const admin = rt.addresses().metrics!;
    const list = bufferIO();
    expect(await main(['ipvs', '--live', '--admin', admin, '--node', 'node-a'], list)).toBe(0);
    const lines = list.stdout().split('\n');
    expect(lines[0]).toBe('IP Virtual Server version 1.2.1 (size=4096)');
    const vs = lines.findIndex((l) => l.startsWith(`TCP  ${a.svcIP(20)}:8000 rr`));
    expect(vs).toBeGreaterThan(0);
    // Each real server of web has taken connections: InActConn counts the closed ones (TIME_WAIT).
    const reals = lines.slice(vs + 1, vs + 4);
    for (const l of reals)
      expect(l).toMatch(/^ {2}-> 10\.250\.\d+\.\d+:8080\s+Masq\s+1\s+\d+\s+[1-9]\d*\s*$/);
    const conns = bufferIO();
    expect(await main(['ipvs', '--live', '--admin', admin, '--node', 'node-a', '-c'], conns)).toBe(0);
    expect(conns.stdout()).toMatch(/^IPVS connection entries\npro expire state/);
    expect(conns.stdout()).toMatch(
      new RegExp(`TCP \\d\\d:\\d\\d\\s+TIME_WAIT\\s+\\S+\\s+${a.svcIP(20).replace(/\./g, '\\.')}:8000`),
    );
  });
});

describe('kpath up --mode ipvs, lc (least connections sees the real open connections)', () => {
  const SLOT = 51;
  const a = addrs(SLOT);
  const clock = new ManualClock(9_000_000);
  const yaml = ipvsCluster(
    SLOT,
    'lc',
    `${echoDeployment('web', 3)}${service('web', { ip: a.svcIP(20), port: 8000 })}`,
  );
  let rt: Runtime;
  beforeAll(async () => {
    rt = await up({ files: [writeCluster(yaml).file], clock, node: 'node-a', watch: false });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('two held connections load two servers; every new connection goes to the idle third', async () => {
    const t = ipvsOf(rt, 'node-a');
    const held = [await dial(a.svcTwin(20), 8000), await dial(a.svcTwin(20), 8000)];
    try {
      const busy = await waitFor(() => {
        const c = t.conns.list().filter((x) => !x.template && x.state === 'ESTABLISHED');
        return c.length === 2 ? c.map((x) => x.daddr.text) : undefined;
      }, 'two established IPVS connections');
      expect(new Set(busy).size).toBe(2);
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const r = (await get(a.svcTwin(20), 8000, '/')).json();
        seen.add(String(r.podIP));
        // Wait for the runtime's close walk: the connection leaves the active count (lc: 256 per active).
        await waitFor(() => {
          const live = t.conns.list().filter((x) => !x.template && x.state === 'ESTABLISHED');
          return live.length === 2 ? true : undefined;
        }, 'the request connection closed in the IPVS table');
      }
      expect(seen.size).toBe(1);
      expect(busy).not.toContain([...seen][0]);
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
