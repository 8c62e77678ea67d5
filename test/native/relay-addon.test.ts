/**
 * native/src/relay.c through the addon itself, on real loopback sockets, on both of its engines
 * (io_uring, native/src/uring.c, and epoll + splice): bytes both ways and streams handed to splice,
 * half-close, resets both ways, relayClose with RST, stale handles, relayStart's `segs` flag (the
 * two TCP_INFO readings at the end, which JavaScript skips when conntrack accounting is off), and
 * the fallback to epoll when io_uring cannot be set up.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRelayEnv, nativeAddon } from '../../proxy/native/load.js';

const addon = nativeAddon();

type Closed = [reason: string, bytesIn: number, bytesOut: number, segsIn: number, segsOut: number];
const ended = new Map<number, (c: Closed) => void>();
let nextToken = 1_000_000;

function fdOf(s: Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor');
  return fd;
}

// uring: multishot receives (the default); uring-single: one receive per message
// (KPATH_RELAY_MULTISHOT=0); epoll: recv/send and splice.
const engines = addon ? ['uring', 'uring-single', 'epoll'] : [];
const uringHere = addon ? addon.relayEngine('uring')[0] === 'uring' : false;

describe('KPATH_RELAY', () => {
  it('takes uring, epoll or nothing; anything else is a usage error (kpath up exits 2)', () => {
    for (const v of [undefined, '', 'uring', 'epoll'])
      expect(() => checkRelayEnv({ KPATH_RELAY: v })).not.toThrow();
    expect(() => checkRelayEnv({ KPATH_RELAY: 'io_uring' })).toThrow(
      expect.objectContaining({
        code: 'KPATH_E_USAGE',
        message: expect.stringContaining('KPATH_RELAY=io_uring: expected uring or epoll'),
      }),
    );
  });

  it('KPATH_RELAY_MULTISHOT takes 0, 1 or nothing; anything else is a usage error', () => {
    for (const v of [undefined, '', '0', '1'])
      expect(() => checkRelayEnv({ KPATH_RELAY_MULTISHOT: v })).not.toThrow();
    expect(() => checkRelayEnv({ KPATH_RELAY_MULTISHOT: 'no' })).toThrow(
      expect.objectContaining({
        code: 'KPATH_E_USAGE',
        message: expect.stringContaining('KPATH_RELAY_MULTISHOT=no: expected 0 or 1'),
      }),
    );
  });
});

describe.skipIf(!addon)('relayEngine', () => {
  it('KPATH_RELAY=epoll picks epoll; io_uring is used here when the kernel allows it', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { nativeAddon } from '${process.cwd()}/dist/proxy/native/load.js'; console.log(JSON.stringify(nativeAddon().relayEngine()))`,
      ],
      { env: { ...process.env, KPATH_RELAY: 'epoll' }, encoding: 'utf8' },
    );
    expect(JSON.parse(out)).toEqual(['epoll', 'KPATH_RELAY=epoll', 0, 0, 0]);
    // This machine and CI: Linux 6.x with kernel.io_uring_disabled=0.
    // (kernel.io_uring_disabled exists from Linux 6.6; before it io_uring is on unless seccomp says no)
    const knob = '/proc/sys/kernel/io_uring_disabled';
    const disabled = existsSync(knob) ? readFileSync(knob, 'utf8').trim() : '0';
    if (disabled === '0') expect(addon!.relayEngine('uring')[0]).toBe('uring');
  });

  it('falls back to epoll, saying why, when io_uring_setup fails (here: out of descriptors)', () => {
    // A child fills its descriptor table, so io_uring_setup fails with EMFILE, as it fails with
    // ENOSYS or EPERM elsewhere.
    const script = `
      import { openSync } from 'node:fs';
      import { nativeAddon } from '${process.cwd()}/dist/proxy/native/load.js';
      const a = nativeAddon();
      const held = [];
      try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}
      console.log(JSON.stringify(a.relayEngine('uring')));`;
    const out = execFileSync(
      'prlimit',
      ['--nofile=256', process.execPath, '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    const [engine, why] = JSON.parse(out) as [string, string];
    expect(engine).toBe('epoll');
    expect(why).toContain('io_uring is unavailable (io_uring_setup: EMFILE)');
  });

  /** Eight clients each send 200 numbered 100-byte messages to an echo server through a relay, all
   * at once, in a child process with `env`; what came back and what relayEngine() says after. */
  function eightBusyRelays(env: Record<string, string>): {
    engine: string;
    why: string;
    waits: number;
    ok: boolean[];
  } {
    const script = `
      import { once } from 'node:events';
      import { connect, createServer } from 'node:net';
      import { nativeAddon } from '${process.cwd()}/dist/proxy/native/load.js';
      const a = nativeAddon();
      a.relayOnClosed(() => {});
      const echo = createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); });
      echo.listen(0, '127.0.0.1'); await once(echo, 'listening');
      const accepted = [];
      const front = createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
      front.listen(0, '127.0.0.1'); await once(front, 'listening');
      const clients = [];
      for (let i = 0; i < 8; i++) {
        const c = connect(front.address().port, '127.0.0.1'); await once(c, 'connect');
        while (!accepted.length) await new Promise((r) => setImmediate(r));
        const down = accepted.shift();
        const up = connect(echo.address().port, '127.0.0.1'); await once(up, 'connect');
        a.relayStart(down._handle.fd, up._handle.fd, i + 1, false, 0, false);
        down.destroy(); up.destroy();
        clients.push(c);
      }
      const msg = (i, k) => Buffer.from(String(i * 1000 + k).padStart(100, '.'));
      const want = (i) => Buffer.concat(Array.from({ length: 200 }, (_, k) => msg(i, k)));
      const got = await Promise.all(clients.map((c, i) => new Promise((resolve) => {
        const parts = []; let n = 0;
        c.on('data', (d) => { parts.push(d); n += d.length; if (n >= 20000) resolve(Buffer.concat(parts)); });
        let k = 0;
        const next = () => { for (let j = 0; j < 20 && k < 200; j++) c.write(msg(i, k++)); if (k < 200) setImmediate(next); };
        next();
      })));
      const [engine, why, waits] = a.relayEngine();
      console.log(JSON.stringify({ engine, why, waits, ok: got.map((g, i) => g.equals(want(i))) }));
      process.exit(0);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, KPATH_RELAY: 'uring', ...env },
      encoding: 'utf8',
      timeout: 15_000,
    });
    return JSON.parse(out) as { engine: string; why: string; waits: number; ok: boolean[] };
  }

  it.skipIf(!uringHere)(
    'with 2 ring buffers for 8 busy relays, receives wait for buffers and every byte still arrives in order',
    () => {
      // More receives complete in a batch than there are buffers, so some find none (ENOBUFS) and
      // wait for one to come back.
      const r = eightBusyRelays({ KPATH_RELAY_BUFS: '2' });
      expect(r.engine).toBe('uring');
      expect(r.why).toContain('2 buffers of 16384 bytes');
      expect(r.ok).toEqual(Array(8).fill(true));
      expect(r.waits).toBeGreaterThan(0);
    },
  );

  it.skipIf(!uringHere)(
    'a kernel that rejects multishot receives (EINVAL, before 6.0; simulated): one receive per message, every byte in order',
    () => {
      const r = eightBusyRelays({ KPATH_TEST_MULTISHOT_EINVAL: '1' });
      expect(r.engine).toBe('uring');
      expect(r.why).toContain('; one receive per message');
      expect(r.ok).toEqual(Array(8).fill(true));
      const plain = eightBusyRelays({});
      expect(plain.why).toContain('; multishot receives');
      expect(plain.ok).toEqual(Array(8).fill(true));
    },
  );

  it('KPATH_RELAY_BUFS that is not a power of two leaves the relay on epoll, saying why', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { nativeAddon } from '${process.cwd()}/dist/proxy/native/load.js'; console.log(JSON.stringify(nativeAddon().relayEngine()))`,
      ],
      { env: { ...process.env, KPATH_RELAY: 'uring', KPATH_RELAY_BUFS: '100' }, encoding: 'utf8' },
    );
    const [engine, why] = JSON.parse(out) as [string, string];
    expect(engine).toBe('epoll');
    expect(why).toContain('KPATH_RELAY_BUFS (a power of two, 1..32768): EINVAL');
  });

  it('rejects an unknown engine', () => {
    expect(() => addon!.relayEngine('splice' as 'uring')).toThrow(/expected 'uring' or 'epoll'/);
  });
});

describe.skipIf(!addon).each(engines)('native relay on %s', (engine) => {
  let echo: Server;
  let front: Server;
  let echoPort = 0;
  let frontPort = 0;
  const accepted: Socket[] = [];
  const endpoints: Socket[] = [];

  beforeAll(async () => {
    if (engine !== 'epoll' && !uringHere) return;
    const which = engine === 'epoll' ? 'epoll' : 'uring';
    const [got, why] = addon!.relayEngine(which, engine === 'uring');
    expect(got).toBe(which);
    if (engine === 'uring') expect(why).toContain('; multishot receives');
    if (engine === 'uring-single') expect(why).toContain('; one receive per message');
    addon!.relayOnClosed((token, reason, o, r, so, sr) => {
      ended.get(token)?.([reason, o, r, so, sr]);
      ended.delete(token);
    });
    // The endpoint: echoes, keeps its side open after the client's FIN until it has echoed all.
    echo = createServer({ allowHalfOpen: true }, (s) => {
      endpoints.push(s);
      s.on('data', (d) => s.write(d));
      s.on('end', () => s.end());
      s.on('error', () => {});
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as AddressInfo).port;
    front = createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    frontPort = (front.address() as AddressInfo).port;
  });
  afterAll(() => {
    echo?.close();
    front?.close();
  });

  /** A client connected through a relay to the echo server. */
  async function relayed(
    segs?: boolean,
  ): Promise<{ client: Socket; up: Socket; handle: number; closed: Promise<Closed> }> {
    const client = connect({ port: frontPort, host: '127.0.0.1', allowHalfOpen: true });
    client.on('error', () => {});
    await once(client, 'connect');
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 1));
    const down = accepted.shift()!;
    const n = endpoints.length;
    const upSock = connect(echoPort, '127.0.0.1');
    await once(upSock, 'connect');
    while (endpoints.length === n) await new Promise((r) => setTimeout(r, 1));
    const token = nextToken++;
    const closed = new Promise<Closed>((resolve) => ended.set(token, resolve));
    const args: [number, number, number, boolean, number, ...boolean[]] = [
      fdOf(down),
      fdOf(upSock),
      token,
      false,
      0,
    ];
    if (segs !== undefined) args.push(segs);
    const handle = addon!.relayStart(...args);
    down.destroy();
    upSock.destroy();
    return { client, up: endpoints[endpoints.length - 1]!, handle, closed };
  }

  function collect(s: Socket): { bytes: () => Buffer } {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    return { bytes: () => Buffer.concat(parts) };
  }

  const until = async (f: () => boolean) => {
    for (let i = 0; i < 5000 && !f(); i++) await new Promise((r) => setTimeout(r, 1));
    expect(f()).toBe(true);
  };

  it.each([
    [undefined, true],
    [true, true],
    [false, false],
  ])('segs %s: onClosed has the segment counts: %s', async (segs, counted) => {
    if (engine !== 'epoll' && !uringHere) return;
    const { client, closed } = await relayed(segs);
    const got = collect(client);
    client.write('ping');
    await until(() => got.bytes().length === 4);
    client.end();
    await once(client, 'close');
    const [reason, o, r, so, sr] = await closed;
    expect([reason, o, r, got.bytes().toString()]).toEqual(['closed', 4, 4, 'ping']);
    if (counted) {
      // Each side sent at least its data segment and its FIN (and the client its handshake ACK).
      expect(so).toBeGreaterThanOrEqual(2);
      expect(sr).toBeGreaterThanOrEqual(2);
    } else expect([so, sr]).toEqual([-1, -1]);
  });

  it('moves 4 MiB each way byte for byte (copied, then spliced) and counts it', async () => {
    if (engine !== 'epoll' && !uringHere) return;
    const { client, handle, closed } = await relayed();
    const got = collect(client);
    const data = Buffer.alloc(4 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    // A small request first (the copy path), then the stream.
    client.write('hello');
    await until(() => got.bytes().length === 5);
    client.write(data);
    await until(() => got.bytes().length === 5 + data.length);
    expect(got.bytes().subarray(5).equals(data)).toBe(true);
    const live = addon!.relayBytes(handle, false)!;
    expect(live.slice(0, 3)).toEqual([5 + data.length, 5 + data.length, 0]);
    client.end();
    const [reason, o, r] = await closed;
    expect([reason, o, r]).toEqual(['closed', 5 + data.length, 5 + data.length]);
    await new Promise((r) => setImmediate(r)); // freed once the batch that ended it is over
    expect(addon!.relayBytes(handle)).toBeUndefined(); // stale
    addon!.relayClose(handle, true); // ignored
  });

  it('backpressure: a client that does not read holds the endpoint back; nothing lost or reordered', async () => {
    if (engine !== 'epoll' && !uringHere) return;
    const { client, up, handle, closed } = await relayed();
    client.pause();
    const stopsBefore = addon!.relayEngine()[3];
    // 4000-byte writes, the next only once the relay has read the last (so every read is one
    // small write: copied, on the ring a queued receive, never a full buffer handed to splice),
    // until one stays unread for a second: the relay has stopped reading the endpoint.
    const total = 64 << 20;
    const size = 4000;
    const chunk = (k: number) => Buffer.alloc(size, k & 0xff);
    const moved = () => addon!.relayBytes(handle, false)![1];
    let written = 0;
    let k = 0;
    let blocked = false;
    while (written < total && !blocked) {
      up.write(chunk(k++));
      written += size;
      const t0 = Date.now();
      while (moved() < written && Date.now() - t0 < 1000) await new Promise((r) => setImmediate(r));
      blocked = moved() < written;
    }
    expect(blocked).toBe(true);
    const [, , inFlight] = addon!.relayBytes(handle, false)!;
    // What the relay holds meanwhile: the epoll path at most one pipe (64 KiB); the ring a send's
    // buffer and those that arrived before its receive was stopped (here: one).
    expect(inFlight).toBeLessThanOrEqual(65536);
    if (engine === 'uring') expect(addon!.relayEngine()[3]).toBeGreaterThan(stopsBefore);
    const got = collect(client);
    client.resume();
    await until(() => got.bytes().length === written);
    const want = Buffer.concat(Array.from({ length: k }, (_, i) => chunk(i)));
    expect(got.bytes().equals(want)).toBe(true);
    client.end();
    up.end();
    expect((await closed)[0]).toBe('closed');
  });

  it("half-close: the client's FIN reaches the endpoint, whose reply still comes back", async () => {
    if (engine !== 'epoll' && !uringHere) return;
    const { client, up, handle, closed } = await relayed();
    // The endpoint stops echoing and answers only after the client's FIN.
    up.removeAllListeners('data');
    up.removeAllListeners('end');
    const upGot = collect(up);
    up.on('end', () => setTimeout(() => up.end(`late reply to ${upGot.bytes().toString()}`), 20));
    const got = collect(client);
    const clientEnd = once(client, 'end');
    client.end('question');
    await until(() => (addon!.relayBytes(handle, false)?.[6] ?? 0) === 1); // the client's FIN read
    const [reason] = await closed;
    expect(reason).toBe('closed');
    await clientEnd;
    expect(got.bytes().toString()).toBe('late reply to question');
  });

  it('both FINs at once (a request-per-connection close): each side gets all its bytes, then the FIN', async () => {
    if (engine !== 'epoll' && !uringHere) return;
    const { client, up, closed } = await relayed();
    up.removeAllListeners('data');
    up.removeAllListeners('end');
    const upGot = collect(up);
    const got = collect(client);
    const ends = [once(client, 'end'), once(up, 'end')];
    const saved = addon!.relayEngine()[4];
    // In one JavaScript turn: both FINs (behind their bytes) reach the relay's sockets before the
    // event loop hands it their completions, so the ring engine sees both in one batch.
    client.end('last request');
    up.end('last reply');
    await Promise.all(ends);
    const [reason, o, r] = await closed;
    expect([reason, o, r]).toEqual(['closed', 12, 10]);
    expect([got.bytes().toString(), upGot.bytes().toString()]).toEqual(['last reply', 'last request']);
    // The first FIN the ring saw waited for the batch's end, and went out with the close.
    if (engine !== 'epoll') expect(addon!.relayEngine()[4]).toBe(saved + 1);
    else expect(addon!.relayEngine()[4]).toBe(saved);
  });

  it('a reset on one side resets the other and ends the relay', async () => {
    if (engine !== 'epoll' && !uringHere) return;
    const { client, up, closed } = await relayed();
    const got = collect(client);
    client.write('x');
    await until(() => got.bytes().length === 1);
    const err = once(client, 'error');
    up.resetAndDestroy();
    expect(((await err)[0] as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect((await closed)[0]).toBe('endpoint ECONNRESET');

    const b = await relayed();
    const upErr = new Promise<string>((resolve) =>
      b.up.once('error', (e: NodeJS.ErrnoException) => resolve(e.code!)),
    );
    b.client.resetAndDestroy();
    expect(await upErr).toBe('ECONNRESET');
    expect((await b.closed)[0]).toBe('client ECONNRESET');
  });

  it('relayClose(reset) sends RST both ways; relayClose without reset sends FINs', async () => {
    if (engine !== 'epoll' && !uringHere) return;
    const a = await relayed();
    const clientErr = new Promise<string>((resolve) =>
      a.client.once('error', (e: NodeJS.ErrnoException) => resolve(e.code!)),
    );
    const upErr = new Promise<string>((resolve) =>
      a.up.once('error', (e: NodeJS.ErrnoException) => resolve(e.code!)),
    );
    addon!.relayClose(a.handle, true);
    expect((await a.closed)[0]).toBe('reset');
    expect(await clientErr).toBe('ECONNRESET');
    expect(await upErr).toBe('ECONNRESET');

    const b = await relayed();
    const clientEnd = once(b.client, 'end');
    const upEnd = once(b.up, 'end');
    addon!.relayClose(b.handle, false);
    expect((await b.closed)[0]).toBe('closed by kpath');
    await clientEnd;
    await upEnd;
  });
});
