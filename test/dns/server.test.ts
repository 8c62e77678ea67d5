import * as net from 'node:net';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsServer } from '../../proxy/dns/index.js';
import { startDnsServer } from '../../proxy/dns/index.js';
import { bigCount, clusterView, svc } from './fixtures.js';
import { dig, query, tcpExchange, udpExchange } from './helpers.js';

const logger = pino({ level: 'silent' });

function rcode(b: Buffer): string {
  return (dnsPacket.decode(b) as dnsPacket.DecodedPacket & { rcode: string }).rcode;
}
let server: DnsServer;
let port: number;

beforeAll(async () => {
  server = await startDnsServer({ listen: [{ host: '127.0.0.1', port: 0 }], view: clusterView(), logger });
  port = server.addresses[0]!.port;
});
afterAll(async () => {
  await server.close();
});

describe('real sockets on 127.0.0.1', () => {
  it('listens on one port for UDP and TCP', () => {
    expect(server.addresses.map((a) => a.protocol).sort()).toEqual(['tcp', 'udp']);
    expect(new Set(server.addresses.map((a) => a.port)).size).toBe(1);
  });

  it('answers over UDP and TCP', async () => {
    const u = dnsPacket.decode((await udpExchange(port, query('svc1.testns.svc.cluster.local')))!);
    expect((u.answers![0] as dnsPacket.StringAnswer).data).toBe('10.96.0.11');
    const [t] = await tcpExchange(port, [query('dual.testns.svc.cluster.local', 'AAAA')]);
    expect((dnsPacket.decode(t!).answers![0] as dnsPacket.StringAnswer).data).toBe('fd00:10:96::12');
  });

  it('pipelines many queries on one TCP connection, with garbage frames in between', async () => {
    const qs = Array.from({ length: 200 }, (_, i) =>
      query(i % 2 ? 'svc1.testns.svc.cluster.local' : 'nope.testns.svc.cluster.local', 'A', { id: i }),
    );
    qs.splice(50, 0, Buffer.from([1, 2, 3])); // too short: dropped, no reply
    const replies = await tcpExchange(port, qs, 200);
    expect(replies).toHaveLength(200);
    const ids = replies.map((r) => dnsPacket.decode(r).id).sort((x, y) => x! - y!);
    expect(ids).toEqual(Array.from({ length: 200 }, (_, i) => i));
    for (const r of replies) {
      const m = dnsPacket.decode(r) as dnsPacket.DecodedPacket & { rcode: string };
      expect(m.rcode).toBe(m.id! % 2 ? 'NOERROR' : 'NXDOMAIN');
    }
  });

  it('truncated over UDP, complete over TCP (the client retry)', async () => {
    const u = dnsPacket.decode((await udpExchange(port, query('big.testns.svc.cluster.local')))!);
    expect(u.flag_tc).toBe(true);
    const [t] = await tcpExchange(port, [query('big.testns.svc.cluster.local')]);
    expect(dnsPacket.decode(t!).answers).toHaveLength(bigCount);
  });

  it('no reply to responses or runts; survives a half frame and a hang-up', async () => {
    const q = query('svc1.testns.svc.cluster.local');
    q[2] = q[2]! | 0x80;
    expect(await udpExchange(port, q, 300)).toBeUndefined();
    expect(await udpExchange(port, Buffer.from([1, 2, 3]), 300)).toBeUndefined();
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.write(Buffer.from([0, 40, 1, 2, 3]));
        s.end();
        resolve();
      });
    });
    expect(await udpExchange(port, query('svc1.testns.svc.cluster.local'))).toBeDefined();
  });

  it('closes idle TCP connections', async () => {
    const s2 = await startDnsServer({
      listen: [{ host: '127.0.0.1', port: 0 }],
      view: clusterView(),
      logger,
      tcpIdleTimeoutMs: 150,
    });
    const closed = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port: s2.addresses[0]!.port });
      c.on('close', () => resolve(true));
      c.on('error', () => undefined);
      setTimeout(() => resolve(false), 3000);
    });
    expect(closed).toBe(true);
    await s2.close();
  });

  it('reload swaps the zone', async () => {
    const s2 = await startDnsServer({
      listen: [{ host: '127.0.0.1', port: 0 }],
      view: clusterView(),
      logger,
    });
    const p = s2.addresses[0]!.port;
    expect(rcode((await udpExchange(p, query('new.testns.svc.cluster.local')))!)).toBe('NXDOMAIN');
    const v = clusterView();
    s2.reload({ ...v, services: [...v.services, svc({ name: 'new', clusterIPs: ['10.96.0.99'] })] });
    const m = dnsPacket.decode((await udpExchange(p, query('new.testns.svc.cluster.local')))!);
    expect((m.answers![0] as dnsPacket.StringAnswer).data).toBe('10.96.0.99');
    await s2.close();
  });

  it('reports a port in use as KPATH_E_LISTEN', async () => {
    await expect(
      startDnsServer({ listen: [{ host: '127.0.0.1', port }], view: clusterView(), logger }),
    ).rejects.toMatchObject({
      code: 'KPATH_E_LISTEN',
    });
  });
});

describe('forwarding to a loopback upstream', () => {
  let upstream: DnsServer;
  let front: DnsServer;
  let fport: number;
  beforeAll(async () => {
    // The upstream is another kpath server authoritative for example.com.
    upstream = await startDnsServer({
      listen: [{ host: '127.0.0.1', port: 0 }],
      view: {
        domain: 'example.com',
        services: [svc({ namespace: 'default', name: 'web', clusterIPs: ['10.1.2.3'] })],
      },
      logger,
    });
    const v = clusterView();
    front = await startDnsServer({
      listen: [{ host: '127.0.0.1', port: 0 }],
      view: {
        ...v,
        services: [
          ...v.services,
          svc({ name: 'out', type: 'ExternalName', externalName: 'web.default.svc.example.com', ports: [] }),
        ],
      },
      logger,
      upstream: `127.0.0.1:${upstream.addresses[0]!.port}`,
    });
    fport = front.addresses[0]!.port;
  });
  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  it('forwards names outside the cluster zones over UDP and TCP', async () => {
    const u = dnsPacket.decode(
      (await udpExchange(fport, query('web.default.svc.example.com', 'A', { id: 99 })))!,
    );
    expect(u.id).toBe(99);
    expect((u.answers![0] as dnsPacket.StringAnswer).data).toBe('10.1.2.3');
    const [t] = await tcpExchange(fport, [query('web.default.svc.example.com')]);
    expect((dnsPacket.decode(t!).answers![0] as dnsPacket.StringAnswer).data).toBe('10.1.2.3');
  });

  it('chases an ExternalName out of the zone through the upstream', async () => {
    const m = dnsPacket.decode((await udpExchange(fport, query('out.testns.svc.cluster.local')))!);
    expect(m.answers!.map((r) => r.type)).toEqual(['CNAME', 'A']);
    expect((m.answers![1] as dnsPacket.StringAnswer).data).toBe('10.1.2.3');
  });

  it('SERVFAIL when the upstream does not answer', async () => {
    const dead = await startDnsServer({
      listen: [{ host: '127.0.0.1', port: 0 }],
      view: clusterView(),
      logger,
      upstream: '127.0.0.1:9', // discard port: nothing answers
      upstreamTimeoutMs: 300,
    });
    expect(rcode((await udpExchange(dead.addresses[0]!.port, query('example.org')))!)).toBe('SERVFAIL');
    await dead.close();
  });
});

describe('dig against the server', () => {
  const at = () => ['@127.0.0.1', '-p', String(port)];
  it.each([[[]], [['+tcp']]])('main record kinds %s', async (extra) => {
    expect((await dig([...at(), ...extra, '+short', 'svc1.testns.svc.cluster.local'])).trim()).toBe(
      '10.96.0.11',
    );
    expect((await dig([...at(), ...extra, '+short', 'AAAA', 'dual.testns.svc.cluster.local'])).trim()).toBe(
      'fd00:10:96::12',
    );
    expect(
      (await dig([...at(), ...extra, '+short', 'hdls1.testns.svc.cluster.local'])).trim().split('\n').sort(),
    ).toEqual(['10.244.2.1', '10.244.2.2']);
    expect(
      (await dig([...at(), ...extra, '+short', 'SRV', '_http._tcp.svc1.testns.svc.cluster.local'])).trim(),
    ).toBe('0 100 80 svc1.testns.svc.cluster.local.');
    expect((await dig([...at(), ...extra, '+short', '-x', '10.96.0.11'])).trim()).toBe(
      'svc1.testns.svc.cluster.local.',
    );
    expect((await dig([...at(), ...extra, '+short', 'TXT', 'dns-version.cluster.local'])).trim()).toBe(
      '"1.1.0"',
    );
    expect((await dig([...at(), ...extra, '+short', 'CNAME', 'ext.testns.svc.cluster.local'])).trim()).toBe(
      'ext.example.com.',
    );
    const nx = await dig([...at(), ...extra, 'nope.testns.svc.cluster.local']);
    expect(nx).toMatch(/status: NXDOMAIN/);
    expect(nx).toMatch(/flags: qr aa rd;/);
    expect(nx).toMatch(
      /cluster\.local\.\s+30\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 30/,
    );
    const nodata = await dig([...at(), ...extra, 'AAAA', 'svc1.testns.svc.cluster.local']);
    expect(nodata).toMatch(/status: NOERROR/);
    expect(nodata).toMatch(/ANSWER: 0, AUTHORITY: 1/);
  });

  it('dig retries over TCP after a truncated UDP answer', async () => {
    const out = await dig([...at(), '+noedns', 'big.testns.svc.cluster.local']);
    expect(out).toMatch(/Truncated, retrying in TCP mode/);
    expect(out).toMatch(new RegExp(`ANSWER: ${bigCount},`));
  });

  it('dig sees REFUSED outside the zone and for AXFR', async () => {
    expect(await dig([...at(), 'example.com'])).toMatch(/status: REFUSED/);
    expect(await dig([...at(), '+tcp', 'AXFR', 'cluster.local'])).toMatch(/Transfer failed|REFUSED/);
  });
});
