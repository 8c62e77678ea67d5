/**
 * The two relays of an established connection, side by side: the kernel's (splice, native/src/relay.c)
 * and Node's stream pipe. Same cluster, same checks: bytes both ways and in the live table, half-close,
 * resets, an idle timeout, a slow reader, and closing on stop.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeAddon } from '../../proxy/native/load.js';
import { conntrackJson, formatConntrackLine, type Runtime } from '../../proxy/runtime/index.js';
import {
  addrs,
  baseCluster,
  dial,
  echoDeployment,
  ending,
  expectSlowReaderBounded,
  memoryLogger,
  type Relay,
  relaysFor,
  service,
  up,
  waitFor,
  writeCluster,
} from './helpers.js';

const FLOOD_BYTES = 8 * 1024 * 1024;
const PIECE = 4096;
const floodByte = (i: number) => Math.floor(i / PIECE) & 0xff;
/** Write FLOOD_BYTES in 4 KiB pieces (piece k filled with k & 0xff), one per millisecond while the
 *  socket takes them. */
function flood(sock: import('node:net').Socket): void {
  let off = 0;
  const next = () => {
    while (off < FLOOD_BYTES) {
      const piece = Buffer.alloc(PIECE, floodByte(off));
      off += piece.length;
      if (!sock.write(piece)) {
        sock.once('drain', () => setTimeout(next, 1));
        return;
      }
      setTimeout(next, 1);
      return;
    }
  };
  next();
}

/** A selector-less service on port 9000 whose one endpoint is `ep`:9000. */
function heldService(ip: string, ep: string): string {
  return `---
apiVersion: v1
kind: Service
metadata:
  name: held
  namespace: default
spec:
  clusterIP: ${ip}
  ports:
    - name: tcp
      port: 9000
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: held-1
  namespace: default
  labels:
    kubernetes.io/service-name: held
addressType: IPv4
ports:
  - name: tcp
    port: 9000
    protocol: TCP
endpoints:
  - addresses: ["${ep}"]
    conditions:
      ready: true
`;
}
/** The kernel relay on each of its engines (native/src/relay.c: io_uring where the kernel allows
 *  it, and epoll + splice, the fallback; the second on slot 53), and Node's streams. */
const relays: [Relay, number, 'uring' | 'epoll' | undefined][] = relaysFor(11, 12).flatMap(
  ([relay, slot]): [Relay, number, 'uring' | 'epoll' | undefined][] =>
    relay === 'kernel'
      ? [
          [relay, slot, 'uring'],
          [relay, 53, 'epoll'],
        ]
      : [[relay, slot, undefined]],
);

/** Read from `s` until `n` bytes arrived. */
function readN(s: import('node:net').Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onError = (e: Error) => {
      s.off('data', onData);
      reject(e);
    };
    const onData = (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        s.off('data', onData);
        s.off('error', onError);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
    s.once('error', onError);
  });
}

describe.each(relays)('%s relay (slot %i, engine %s)', (relay, slot, engine) => {
  const a = addrs(slot);
  const svc = a.svcTwin(20);
  let rt: Runtime;
  const mem = memoryLogger('debug');
  // An endpoint of the test's own (a selector-less service): it never closes on the client's FIN,
  // and closes its side when it reads "close".
  const held = new Set<import('node:net').Socket>();
  const holder = createServer({ allowHalfOpen: true }, (sock) => {
    held.add(sock);
    sock.on('close', () => held.delete(sock));
    sock.on('error', () => {});
    sock.on('data', (d) => {
      if (d.toString().includes('close')) sock.end();
      if (d.toString().includes('flood')) flood(sock);
    });
  });
  beforeAll(async () => {
    // Relays take the engine their thread has when they start; the file's blocks run one by one.
    if (engine) nativeAddon()!.relayEngine(engine);
    await new Promise<void>((resolve) => holder.listen(9000, `${a.podTwinPrefix}1.200`, resolve));
    const c = writeCluster(
      baseCluster(
        slot,
        echoDeployment('web', 2) +
          service('web', { ip: a.svcIP(20), port: 8000 }) +
          heldService(a.svcIP(21), `10.${200 + slot}.1.200`),
        'iptables',
      ),
    );
    rt = await up({
      files: [c.file],
      logger: mem.logger,
      limits: { nativeRelay: relay === 'kernel', idleTimeoutMs: 600 },
      // The per-direction counters below exist only with accounting on (--conntrack-acct).
      conntrackAcct: true,
      drainTimeoutMs: 100,
    });
    await waitFor(() => rt.pods().length === 2 && rt.pods().every((p) => p.ready), 'pods ready');
  });
  afterAll(async () => {
    await rt?.stop();
    for (const x of held) x.destroy();
    await new Promise((resolve) => holder.close(resolve));
  });

  const closedLines = () => mem.lines().filter((l) => l.msg === 'connection closed');

  it('echoes 4 MiB both ways, counts the bytes live and at the close, and says which relay moved them', async () => {
    const s = await dial(svc, 8000);
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 12)) & 0xff;
    const back = readN(s, payload.length);
    s.write(payload);
    expect((await back).equals(payload)).toBe(true);
    const live = await waitFor(
      () =>
        rt.conntrack.list().find((e) => e.original.sport === s.localPort && e.orig.bytes === payload.length),
      'live entry with the bytes',
    );
    expect(live.repl.bytes).toBe(payload.length);
    // Packets: the kernel relay reads the kernel's own segment counts (TCP_INFO), so they include the
    // handshake and cannot be fewer than 64 KiB segments (loopback's MTU) can carry; Node streams
    // estimate one per 64 KiB read.
    const least = Math.ceil(payload.length / 65536);
    if (relay === 'kernel') {
      expect(live.orig.packets).toBeGreaterThan(least);
      expect(live.repl.packets).toBeGreaterThan(least);
    } else expect(live.orig.packets).toBe(least);
    // conntrack -L with accounting: packets= and bytes= after each tuple.
    expect(formatConntrackLine(conntrackJson(live, Date.now(), rt.conntrack.acct))).toMatch(
      new RegExp(
        ` sport=${s.localPort} dport=8000 packets=${live.orig.packets} bytes=${payload.length} src=.* packets=${live.repl.packets} bytes=${payload.length} \\[ASSURED\\] mark=0 use=1$`,
      ),
    );
    const before = closedLines().length;
    s.end();
    expect(await ending(s)).toBe('end');
    const line = await waitFor(
      () =>
        closedLines()
          .slice(before)
          .find((l) => l.bytesIn === payload.length),
      'log',
    );
    expect(line).toMatchObject({ bytesIn: payload.length, bytesOut: payload.length, relay });
    await waitFor(() => !rt.conntrack.list().some((e) => e.original.sport === s.localPort), 'entry gone');
  });

  it('the live entry follows the FINs: ESTABLISHED, FIN_WAIT after the client FIN, CLOSE_WAIT after the endpoint FIN', async () => {
    const stateOf = (port: number | undefined) =>
      rt.conntrack.list().find((e) => e.original.sport === port && e.reply !== undefined)?.state;
    const c = await dial(a.svcTwin(21), 9000);
    expect(await waitFor(() => stateOf(c.localPort), 'entry')).toBe('ESTABLISHED');
    // The client closes its side; the endpoint (a test server that keeps half-open sockets) does not.
    c.end();
    await waitFor(() => stateOf(c.localPort) === 'FIN_WAIT', 'FIN_WAIT');
    c.destroy();
    // The endpoint closes first; the client keeps its side open.
    const d = await dial(a.svcTwin(21), 9000);
    await waitFor(() => stateOf(d.localPort), 'entry');
    d.write('close');
    await waitFor(() => stateOf(d.localPort) === 'CLOSE_WAIT', 'CLOSE_WAIT');
    d.destroy();
  });

  it('keepalive: on the client socket from the accept, on the endpoint socket once the connection has lasted a second', async () => {
    // ss -o prints a socket's pending timer; keepalive's reads timer:(keepalive,...) (the kernel arms
    // it when SO_KEEPALIVE is set, and an accepted socket inherits the listener's).
    const timerOf = (sport: number, dport: number) =>
      execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${sport} and dport = :${dport} )`], {
        encoding: 'utf8',
      });
    const c = await dial(a.svcTwin(21), 9000);
    const entry = await waitFor(
      () => rt.conntrack.list().find((e) => e.original.sport === c.localPort && e.reply !== undefined),
      'entry',
    );
    expect(timerOf(9000, c.localPort!)).toContain('timer:(keepalive,');
    // Busy for 1.3 s (the idle timeout is 600 ms), then quiet long enough for every segment's ACK.
    for (let i = 0; i < 7; i++) {
      c.write('x');
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(timerOf(entry.reply!.dport, 9000)).toContain('timer:(keepalive,');
    c.destroy();
  });

  it('half-close: the client FIN reaches the endpoint, whose reply and FIN come back', async () => {
    const s = await dial(svc, 8000);
    const got = readN(s, 5);
    s.end('hello');
    expect((await got).toString()).toBe('hello');
    expect(await ending(s)).toBe('end');
  });

  it('a client reset ends the connection at once; the endpoint side is torn down', async () => {
    const s = await dial(svc, 8000);
    const got = readN(s, 2);
    s.write('hi');
    await got;
    const port = s.localPort;
    expect(rt.conntrack.list().some((e) => e.original.sport === port)).toBe(true);
    s.resetAndDestroy();
    await waitFor(() => !rt.conntrack.list().some((e) => e.original.sport === port), 'entry gone', 2000);
  });

  it('an idle connection is closed after idleTimeoutMs; a busy one is not', async () => {
    const idle = await dial(svc, 8000);
    const busy = await dial(svc, 8000);
    const idleEnd = ending(idle);
    const t0 = Date.now();
    let busyClosed = false;
    busy.on('close', () => {
      busyClosed = true;
    });
    for (let i = 0; i < 12; i++) {
      const got = readN(busy, 1);
      busy.write('x');
      await got;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await idleEnd).toBe('end');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    expect(busyClosed).toBe(false);
    busy.destroy();
  });

  it('a slow reader keeps the proxy buffers bounded, then gets every byte', async () => {
    await expectSlowReaderBounded(rt, svc, 8000, 300);
  });

  it('small messages to a reader that stops: what cannot be sent is held, in order, and bounded', async () => {
    // The endpoint writes 4 KiB pieces, one per millisecond, so the relay moves them one by one; the
    // client reads nothing until the relay holds bytes it could not send. Then it reads it all, in
    // order.
    const c = await dial(a.svcTwin(21), 9000);
    c.pause();
    c.write('flood');
    // Resume as soon as the proxy holds bytes it could not send (the runtime's 600 ms idle timeout
    // would end a relay left stalled for longer).
    await waitFor(() => rt.buffered() > 0, 'the proxy holding bytes for the client', 10_000, 2);
    expect(rt.buffered()).toBeLessThan(1024 * 1024);
    c.resume();
    const got = await readN(c, FLOOD_BYTES);
    for (let i = 0; i < FLOOD_BYTES; i += 4096) {
      if (got[i] !== floodByte(i)) throw new Error(`byte ${i} is ${got[i]}, not ${floodByte(i)}`);
    }
    c.destroy();
  });

  it('stop closes relayed connections', async () => {
    const s = await dial(svc, 8000);
    const got = readN(s, 2);
    s.write('hi');
    await got;
    const end = ending(s);
    await rt.stop();
    expect(['end', 'reset', 'close']).toContain(await end);
  });
});
