/**
 * The DNS server's two UDP sockets (native recvmmsg/sendmmsg batches, and node:dgram) against real
 * clients on loopback: replies reach the right source, later (async) replies too, a throwing handler
 * loses only its own datagram, bursts are answered in batches, bind errors carry the errno name.
 */
import * as dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import {
  listenUdpBatch,
  listenUdpDgram,
  type UdpListener,
  type UdpListenOptions,
} from '../../proxy/dns/udp-listener.js';
import { nativeAddon, nativeStatus } from '../../proxy/native/load.js';

const addon = nativeAddon();

it('the native addon is built where CI requires it', () => {
  if (process.env.KPATH_REQUIRE_NATIVE === '1') expect(addon, nativeStatus()).toBeDefined();
  else expect(typeof nativeStatus()).toBe('string');
});

type Kind = 'batch' | 'dgram';
const kinds: Kind[] = addon ? ['batch', 'dgram'] : ['dgram'];

async function listen(kind: Kind, o: UdpListenOptions): Promise<UdpListener> {
  return kind === 'batch' ? listenUdpBatch(addon!, o) : listenUdpDgram(o);
}

/**
 * Send `payloads` from one client socket, at most `window` unanswered at a time (so no socket buffer
 * overflows on a loaded machine), and collect the replies until `expectReplies` or the timeout.
 */
async function exchange(
  host: string,
  port: number,
  payloads: Uint8Array[],
  expectReplies: number,
  timeoutMs = 3000,
  window = 25,
): Promise<{ replies: Buffer[]; clientPort: number }> {
  const c = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => c.bind(0, host, () => r()));
  const replies: Buffer[] = [];
  let wake: (() => void) | undefined;
  c.on('message', (m) => {
    replies.push(m);
    wake?.();
  });
  const deadline = Date.now() + timeoutMs;
  const waitFor = async (n: number): Promise<void> => {
    while (replies.length < n && Date.now() < deadline)
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 20);
      });
  };
  for (const [i, p] of payloads.entries()) {
    await waitFor(Math.min(expectReplies, i - window + 1));
    c.send(p, port, host);
  }
  await waitFor(expectReplies);
  const clientPort = c.address().port;
  c.close();
  return { replies, clientPort };
}

const open: UdpListener[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

describe.each(kinds)('UDP listener (%s)', (kind) => {
  it('answers each datagram to its own source, over IPv4 and IPv6', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const seen: string[] = [];
      const l = await listen(kind, {
        host,
        port: 0,
        handle: (q) => {
          seen.push(Buffer.from(q).toString());
          return Buffer.concat([Buffer.from('re:'), q]);
        },
        onError: (e) => {
          throw e;
        },
      });
      open.push(l);
      expect(l.kind).toBe(kind);
      expect(l.port).toBeGreaterThan(0);
      const [a, b] = await Promise.all([
        exchange(host, l.port, [Buffer.from('one')], 1),
        exchange(host, l.port, [Buffer.from('two')], 1),
      ]);
      expect(a.replies.map(String)).toEqual(['re:one']);
      expect(b.replies.map(String)).toEqual(['re:two']);
      expect(seen.sort()).toEqual(['one', 'two']);
    }
  });

  it('sends replies that come later, and the query bytes a handler copied stay intact', async () => {
    const l = await listen(kind, {
      host: '127.0.0.1',
      port: 0,
      handle: (q) => {
        const copy = q.slice();
        return new Promise((r) => setTimeout(() => r(Buffer.concat([Buffer.from('late:'), copy])), 20));
      },
      onError: () => undefined,
    });
    open.push(l);
    const payloads = Array.from({ length: 40 }, (_, i) => Buffer.from(`q${i}`));
    const { replies } = await exchange('127.0.0.1', l.port, payloads, 40);
    expect(replies.map(String).sort()).toEqual(payloads.map((p) => `late:${p}`).sort());
  });

  it('a handler that throws loses only its datagram; no reply for undefined', async () => {
    const errors: unknown[] = [];
    const l = await listen(kind, {
      host: '127.0.0.1',
      port: 0,
      handle: (q) => {
        const s = Buffer.from(q).toString();
        if (s === 'boom') throw new Error('boom');
        if (s === 'quiet') return undefined;
        return q.slice();
      },
      onError: (e) => errors.push(e),
    });
    open.push(l);
    const { replies } = await exchange(
      '127.0.0.1',
      l.port,
      ['a', 'boom', 'quiet', 'b'].map((s) => Buffer.from(s)),
      2,
    );
    expect(replies.map(String).sort()).toEqual(['a', 'b']);
    await new Promise((r) => setTimeout(r, 50));
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom']);
  });

  it('answers 800 datagrams from 4 clients at once, large and small', async () => {
    let handled = 0;
    const l = await listen(kind, {
      host: '127.0.0.1',
      port: 0,
      handle: (q) => {
        handled++;
        return q.slice();
      },
      onError: () => undefined,
    });
    open.push(l);
    const per = 200;
    const results = await Promise.all(
      [0, 1, 2, 3].map((c) =>
        exchange(
          '127.0.0.1',
          l.port,
          Array.from({ length: per }, (_, i) => Buffer.alloc(i % 50 === 0 ? 9000 : 40, c * 1000 + i)),
          per,
          5000,
        ),
      ),
    );
    for (const r of results) expect(r.replies.length).toBe(per);
    expect(handled).toBe(4 * per);
    for (const r of results) for (const m of r.replies) expect([40, 9000]).toContain(m.length);
  });

  it('a port in use is an error with the errno name; a closed listener frees its port', async () => {
    const l = await listen(kind, { host: '127.0.0.1', port: 0, handle: (q) => q, onError: () => undefined });
    const port = l.port;
    const again = (async () =>
      listen(kind, { host: '127.0.0.1', port, handle: (q) => q, onError: () => 0 }))();
    await expect(again).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await l.close();
    const l2 = await listen(kind, { host: '127.0.0.1', port, handle: (q) => q, onError: () => undefined });
    open.push(l2);
    const { replies } = await exchange('127.0.0.1', port, [Buffer.from('x')], 1);
    expect(replies.map(String)).toEqual(['x']);
  });
});

describe.skipIf(!addon)('batch socket internals', () => {
  it('reads a burst in batches (fewer calls into JavaScript than datagrams)', async () => {
    let calls = 0;
    const s = addon!.udpOpen('127.0.0.1', 0, 32, 2048);
    const meta = new Int32Array(s.meta);
    const out = new Uint8Array(s.out);
    addon!.udpStart(s.handle, (n) => {
      calls++;
      for (let i = 0; i < n; i++) {
        out[i * 2048] = 7;
        meta[i * 10 + 8] = 1;
      }
    });
    const c = dgram.createSocket('udp4');
    await new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()));
    let got = 0;
    const done = new Promise<void>((r) => c.on('message', () => ++got === 200 && r()));
    // Queue them all before the event loop can run the poll callback.
    for (let i = 0; i < 200; i++) c.send(Buffer.from([i & 0xff]), s.port, '127.0.0.1');
    await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
    const st = addon!.udpStats(s.handle);
    c.close();
    addon!.udpClose(s.handle);
    addon!.udpClose(s.handle); // idempotent
    expect(got).toBe(200);
    expect(st.received).toBe(200);
    expect(st.sent).toBe(200);
    expect(st.batches).toBe(calls);
    expect(calls).toBeLessThan(200);
    expect(() => addon!.udpOpen('not-an-ip', 0, 1, 1024)).toThrow(/literal/);
    expect(() => addon!.udpOpen('127.0.0.1', 0, 0, 1024)).toThrow(/slots/);
  });
});
