/**
 * native/src/relay.c through the addon itself, on real loopback sockets: relayStart's `segs` flag
 * (the two TCP_INFO readings at the end, which JavaScript skips when conntrack accounting is off).
 */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeAddon } from '../../proxy/native/load.js';

const addon = nativeAddon();

type Closed = [reason: string, bytesIn: number, bytesOut: number, segsIn: number, segsOut: number];
const ended = new Map<number, (c: Closed) => void>();
let nextToken = 1_000_000;

function fdOf(s: Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor');
  return fd;
}

describe.skipIf(!addon)('native relay (addon)', () => {
  let echo: Server;
  let front: Server;
  let echoPort = 0;
  let frontPort = 0;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    // The relayOnClosed function is one per thread: keep the runtime's (if a test file set it) by
    // sharing the token table it uses? This file runs in its own fork, so it owns it.
    addon!.relayOnClosed((token, reason, o, r, so, sr) => {
      ended.get(token)?.([reason, o, r, so, sr]);
      ended.delete(token);
    });
    echo = createServer({ allowHalfOpen: true }, (s) => {
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
    echo.close();
    front.close();
  });

  /** A client connected through a relay to the echo server; resolves the relay's end. */
  async function relayed(segs: boolean | undefined): Promise<{ client: Socket; closed: Promise<Closed> }> {
    const client = connect(frontPort, '127.0.0.1');
    await once(client, 'connect');
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 1));
    const down = accepted.shift()!;
    const up = connect(echoPort, '127.0.0.1');
    await once(up, 'connect');
    const token = nextToken++;
    const closed = new Promise<Closed>((resolve) => ended.set(token, resolve));
    const args: [number, number, number, boolean, number, ...boolean[]] = [
      fdOf(down),
      fdOf(up),
      token,
      false,
      0,
    ];
    if (segs !== undefined) args.push(segs);
    addon!.relayStart(...args);
    down.destroy();
    up.destroy();
    return { client, closed };
  }

  async function exchange(client: Socket): Promise<string> {
    let got = '';
    client.on('data', (d) => {
      got += d.toString();
    });
    client.write('ping');
    while (got.length < 4) await new Promise((r) => setTimeout(r, 1));
    client.end();
    await once(client, 'close');
    return got;
  }

  it.each([
    [undefined, true],
    [true, true],
    [false, false],
  ])('segs %s: onClosed has the segment counts: %s', async (segs, counted) => {
    const { client, closed } = await relayed(segs);
    expect(await exchange(client)).toBe('ping');
    const [reason, o, r, so, sr] = await closed;
    expect([reason, o, r]).toEqual(['closed', 4, 4]);
    if (counted) {
      // Each side sent at least its data segment and its FIN (and the client its handshake ACK).
      expect(so).toBeGreaterThanOrEqual(2);
      expect(sr).toBeGreaterThanOrEqual(2);
    } else expect([so, sr]).toEqual([-1, -1]);
  });
});
