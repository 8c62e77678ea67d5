/**
 * native/src/tcp_sockets.c's tcpConnect on both of its dial engines (native/src/dial_ring.c: the
 * setsockopts, bind and connect as one io_uring submission; and five syscalls), on real loopback
 * sockets: the source address and the port tcpConnect reports are what the listener sees, the
 * options the kernel holds for the socket (read back by another process, from the descriptor
 * itself), a refusal, a bind that fails, a listener whose accept queue is full (the SYN goes
 * unanswered: the dial waits, then connects once there is room, or times out), and the engine's
 * choice and its fallback.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRelayEnv, nativeAddon } from '../../proxy/native/load.js';

const addon = nativeAddon();
const SRC = '127.0.0.9';
const DST = '127.0.0.5';

/** This machine and CI: Linux 6.11 or later with io_uring on, so the ring is used by default. */
function ringExpected(): boolean {
  const knob = '/proc/sys/kernel/io_uring_disabled';
  const disabled = existsSync(knob) ? readFileSync(knob, 'utf8').trim() : '0';
  const [maj, min] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number);
  return disabled === '0' && (maj! > 6 || (maj === 6 && min! >= 11));
}

function childDialEngine(env: Record<string, string>): unknown[] {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { nativeAddon } from '${process.cwd()}/dist/proxy/native/load.js'; console.log(JSON.stringify(nativeAddon().tcpDialEngine()))`,
    ],
    { env: { ...process.env, ...env }, encoding: 'utf8' },
  );
  return JSON.parse(out) as unknown[];
}

describe('KPATH_DIAL', () => {
  it('takes uring, syscalls or nothing; anything else is a usage error (kpath up exits 2)', () => {
    for (const v of ['uring', 'syscalls', '', undefined])
      expect(() => checkRelayEnv({ KPATH_DIAL: v })).not.toThrow();
    expect(() => checkRelayEnv({ KPATH_DIAL: 'io_uring' })).toThrow(
      /KPATH_DIAL=io_uring: expected uring or syscalls/,
    );
  });
});

describe.skipIf(!addon)('tcpDialEngine', () => {
  it('dials through the ring by default where the kernel has IORING_OP_BIND; KPATH_DIAL=syscalls does not', () => {
    const [engine, why] = childDialEngine({}) as [string, string];
    if (ringExpected()) {
      expect(engine).toBe('uring');
      expect(why).toContain('setsockopt, bind and connect in one submission');
    } else expect(why).toMatch(/^syscalls: /);
    expect(childDialEngine({ KPATH_DIAL: 'syscalls' })).toEqual([
      'syscalls',
      'syscalls: KPATH_DIAL=syscalls',
      0,
      0,
      'accept4',
      0,
      0,
    ]);
  });

  it('falls back to syscalls, saying why, on a kernel without IORING_OP_BIND (the probe answers as 6.10 would)', () => {
    const [engine, why] = childDialEngine({ KPATH_TEST_DIAL_PROBE: 'nobind' }) as [string, string];
    expect(engine).toBe('syscalls');
    if (ringExpected()) expect(why).toBe('syscalls: this kernel has no IORING_OP_BIND (Linux 6.11)');
  });

  it('falls back to syscalls when io_uring_setup fails (here: out of descriptors), and still dials', () => {
    const script = `
      import { openSync, closeSync } from 'node:fs';
      import { createServer } from 'node:net';
      import { nativeAddon } from '${process.cwd()}/dist/proxy/native/load.js';
      const a = nativeAddon();
      const srv = createServer((s) => s.destroy()).listen(0, '${DST}', () => {
        const held = [];
        try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}
        const engine = a.tcpDialEngine();
        closeSync(held.pop()); // room for the dial's socket, not for a ring
        const r = a.tcpConnect('${SRC}', '${DST}', srv.address().port, 1000, () => {}, 0);
        console.log(JSON.stringify({ engine, r: typeof r }));
        process.exit(0);
      });`;
    const out = execFileSync(
      'prlimit',
      ['--nofile=256', process.execPath, '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    const got = JSON.parse(out) as { engine: [string, string]; r: string };
    expect(got.engine[0]).toBe('syscalls');
    expect(got.engine[1]).toContain('io_uring unavailable (io_uring_setup: EMFILE)');
    expect(got.r).toBe('number');
  });

  it('rejects an unknown engine', () => {
    expect(() => addon!.tcpDialEngine('epoll' as 'uring')).toThrow(/expected 'uring' or 'syscalls'/);
  });
});

/** The kernel's view of a socket, from another process that gets the descriptor as its fd 3. */
function optionsOf(fd: number): {
  nodelay: number;
  noPort: number;
  local: [string, number];
  peer: [string, number];
} {
  const py = `
import json, socket
s = socket.socket(fileno=3)
print(json.dumps({"nodelay": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
  "noPort": s.getsockopt(socket.IPPROTO_IP, 24), "local": s.getsockname(), "peer": s.getpeername()}))
s.detach()`;
  const out = execFileSync('python3', ['-c', py], {
    stdio: ['ignore', 'pipe', 'inherit', fd],
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

/** A listener with room for one connection in its accept queue that accepts nothing until told
 * (python: Node's servers accept at once). */
async function fullListener(): Promise<{
  port: number;
  child: ChildProcessWithoutNullStreams;
  accept: () => void;
}> {
  const py = `
import socket, sys
s = socket.socket()
s.bind(("${DST}", 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdin.readline()
while True:
    c, _ = s.accept()
    c.close()`;
  const child = spawn('python3', ['-c', py]);
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return { port: Number(line.toString().trim()), child, accept: () => child.stdin.write('go\n') };
}

const engines = addon ? (['uring', 'syscalls'] as const) : [];

describe.skipIf(!addon).each(engines)('tcpConnect on %s', (engine) => {
  let server: Server;
  let port = 0;
  const seen: Socket[] = [];
  let ringHere = false;

  beforeAll(async () => {
    ringHere = addon!.tcpDialEngine(engine)[0] === engine;
    server = createServer((s) => seen.push(s));
    server.listen(0, DST);
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    for (const s of seen) s.destroy();
    server.close();
    addon!.tcpDialEngine(ringExpected() ? 'uring' : 'syscalls');
  });

  it('connects at once from the source address, the options set, and says from which port', async () => {
    if (!ringHere) return;
    const before = addon!.tcpDialEngine()[2];
    const r = addon!.tcpConnect(SRC, DST, port, 1000, () => expect.fail('called back'), 0);
    expect(typeof r).toBe('number');
    const fd = Math.floor((r as number) / 65536);
    const localPort = (r as number) % 65536;
    while (seen.length === 0) await new Promise((res) => setTimeout(res, 5));
    const peer = seen.at(-1)!;
    expect([peer.remoteAddress, peer.remotePort]).toEqual([SRC, localPort]);
    const o = optionsOf(fd);
    expect(o).toEqual({ nodelay: 1, noPort: 1, local: [SRC, localPort], peer: [DST, port] });
    addon!.fdClose(fd, false);
    expect(addon!.tcpDialEngine()[2]).toBe(engine === 'uring' ? before + 1 : before);
  });

  it('a refused connection fails at once with ECONNREFUSED', async () => {
    if (!ringHere) return;
    const probe = createServer();
    probe.listen(0, DST);
    await once(probe, 'listening');
    const closedPort = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    expect(addon!.tcpConnect(SRC, DST, closedPort, 1000, () => expect.fail('called back'), 0)).toBe(
      'ECONNREFUSED',
    );
  });

  it("a source address that is not this host's fails the bind (EADDRNOTAVAIL): nothing is sent", () => {
    if (!ringHere) return;
    expect(addon!.tcpConnect('192.0.2.1', DST, port, 1000, () => expect.fail('called back'), 0)).toBe(
      'EADDRNOTAVAIL',
    );
  });

  it('an unanswered SYN (accept queue full): the dial waits, and connects once the listener makes room', async () => {
    if (!ringHere) return;
    const l = await fullListener();
    try {
      const filler = connect(l.port, DST);
      await once(filler, 'connect');
      const slowBefore = addon!.tcpDialEngine()[3];
      let done: (v: [number, string | undefined, number]) => void = () => {};
      const result = new Promise<[number, string | undefined, number]>((res) => {
        done = res;
      });
      const r = addon!.tcpConnect(SRC, DST, l.port, 5000, (fd, code, lp) => done([fd, code, lp]), 0);
      expect(r).toBeUndefined();
      if (engine === 'uring') expect(addon!.tcpDialEngine()[3]).toBe(slowBefore + 1);
      l.accept(); // the SYN's retransmission (after a second) finds room
      const [fd, code, localPort] = await result;
      expect(code).toBeUndefined();
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(optionsOf(fd)).toEqual({ nodelay: 1, noPort: 1, local: [SRC, localPort], peer: [DST, l.port] });
      addon!.fdClose(fd, false);
      filler.destroy();
    } finally {
      l.child.kill();
    }
  });

  it('an unanswered SYN times out with ETIMEDOUT', async () => {
    if (!ringHere) return;
    const l = await fullListener();
    try {
      const filler = connect(l.port, DST);
      await once(filler, 'connect');
      const t0 = Date.now();
      const got = await new Promise<[number, string | undefined]>((res) => {
        const r = addon!.tcpConnect(SRC, DST, l.port, 300, (fd, code) => res([fd, code]), 0);
        expect(r).toBeUndefined();
      });
      expect(got).toEqual([-1, 'ETIMEDOUT']);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
      filler.destroy();
    } finally {
      l.child.kill();
    }
  });
});

/** Clients from SRC to a tcpListen listener, in `env` in a child process: what the listener's
 * onAccept got (peer address and port, against each client's own), and tcpDialEngine() after. */
function acceptInChild(
  env: Record<string, string>,
  clients: number,
): { ok: boolean; engine: unknown[]; n: number } {
  const script = `
    import { connect } from 'node:net';
    import { nativeAddon } from '${process.cwd()}/dist/proxy/native/load.js';
    const a = nativeAddon();
    const got = [];
    const l = a.tcpListen('${DST}', 0, 511, (fd, host, port) => { got.push([host, port]); a.fdClose(fd, false); });
    const socks = [];
    for (let i = 0; i < ${clients}; i++) socks.push(connect({ host: '${DST}', port: l.port, localAddress: '${SRC}' }));
    await Promise.all(socks.map((s) => new Promise((res) => s.on('connect', res))));
    const want = socks.map((s) => [s.localAddress, s.localPort]);
    while (got.length < want.length) await new Promise((res) => setTimeout(res, 5));
    const key = (p) => p.join(':');
    const ok = JSON.stringify(got.map(key).sort()) === JSON.stringify(want.map(key).sort());
    console.log(JSON.stringify({ ok, engine: a.tcpDialEngine(), n: got.length }));
    process.exit(0);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

describe.skipIf(!addon)('tcpListen accepts', () => {
  it('through the ring in batches where the kernel has IORING_ACCEPT_DONTWAIT: every peer address right', () => {
    const r = acceptInChild({}, 40);
    expect(r.ok).toBe(true);
    expect(r.n).toBe(40);
    const [engine, , , , how, accepts, batches] = r.engine as [
      string,
      string,
      number,
      number,
      string,
      number,
      number,
    ];
    if (engine === 'uring') {
      expect(how).toBe('io_uring accept batches');
      expect(accepts).toBe(40);
      expect(batches).toBeGreaterThan(0);
      expect(batches).toBeLessThan(40 * 2);
    }
  });

  it('by accept4 with KPATH_DIAL=syscalls, and on a kernel that rejects the accept flag (EINVAL)', () => {
    const sys = acceptInChild({ KPATH_DIAL: 'syscalls' }, 10);
    expect(sys.ok).toBe(true);
    expect(sys.engine.slice(4)).toEqual(['accept4', 0, 0]);
    const old = acceptInChild({ KPATH_TEST_ACCEPT_EINVAL: '1' }, 10);
    expect(old.ok).toBe(true);
    if (old.engine[0] === 'uring')
      expect(old.engine.slice(4)).toEqual([
        'accept4 (this kernel has no IORING_ACCEPT_DONTWAIT, Linux 6.10)',
        0,
        1,
      ]);
  });
});
