/**
 * Connection churn with every way a client can behave (finish normally, half-close, reset at once,
 * reset mid-stream, go away while the proxy is still dialling, hold a dropped connection), through
 * both relays. Afterwards nothing is left behind: no open connection, no live conntrack entry, and
 * no descriptor beyond what the process had before (the native relay's pooled pipes aside).
 */
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeAddon } from '../../proxy/native/load.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import {
  addrs,
  baseCluster,
  echoDeployment,
  memoryLogger,
  relaysFor,
  service,
  up,
  waitFor,
  writeCluster,
} from './helpers.js';

const relays = relaysFor(13, 14);
const openFds = () => readdirSync('/proc/self/fd').length;
const pooledFds = () => 2 * (nativeAddon()?.relayPipePool() ?? 0);

/** One client, behaving as `how` says; resolves when its socket is closed. */
function client(host: string, port: number, how: number, seed: number): Promise<void> {
  return new Promise((resolve) => {
    const s: Socket = connect({ host, port, allowHalfOpen: true });
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    const payload = Buffer.alloc(1 + ((seed * 7919) % 50_000), seed & 0xff);
    switch (how) {
      case 0: // a request and a normal close once the echo is back
        s.on('connect', () => s.write(payload));
        s.on('data', () => undefined);
        setTimeout(() => s.end(), 30);
        s.on('end', () => s.end());
        break;
      case 1: // half-close at once, read everything back
        s.on('connect', () => s.end(payload));
        s.on('data', () => undefined);
        break;
      case 2: // reset right after connecting (often while the proxy is still dialling)
        s.on('connect', () => s.resetAndDestroy());
        break;
      case 3: // reset in the middle of a transfer
        s.on('connect', () => {
          s.write(payload);
          setTimeout(() => s.resetAndDestroy(), 5);
        });
        s.on('data', () => undefined);
        break;
      default: // close before writing anything
        s.on('connect', () => s.destroy());
    }
  });
}

describe.each(relays)('churn through the %s relay', (relay, slot) => {
  const a = addrs(slot);
  let rt: Runtime;
  beforeAll(async () => {
    const c = writeCluster(
      baseCluster(
        slot,
        echoDeployment('web', 2) +
          service('web', { ip: a.svcIP(20), port: 8000 }) +
          // no endpoints: every connection is rejected
          service('empty', { ip: a.svcIP(21), port: 8000, selector: 'nothing' }),
        'iptables',
      ),
    );
    rt = await up({
      files: [c.file],
      logger: memoryLogger('warn').logger,
      limits: { nativeRelay: relay === 'kernel' },
      drainTimeoutMs: 200,
    });
    await waitFor(() => rt.pods().length === 2 && rt.pods().every((p) => p.ready), 'pods ready');
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('600 connections of five kinds, 40 at a time, and a rejected service: nothing leaks', async () => {
    // Warm up once so lazily created things (pipes, pools, module state) exist before counting.
    await Promise.all([0, 1, 2, 3, 4].map((k) => client(a.svcTwin(20), 8000, k, k)));
    await waitFor(() => rt.conntrack.size === 0, 'warm-up entries gone');
    const before = openFds() - pooledFds();
    let n = 0;
    const worker = async () => {
      while (n < 600) {
        const i = n++;
        await client(i % 10 === 9 ? a.svcTwin(21) : a.svcTwin(20), 8000, i % 5, i);
      }
    };
    await Promise.all(Array.from({ length: 40 }, worker));
    await waitFor(() => rt.conntrack.size === 0, 'every live entry closed', 10_000);
    expect(rt.buffered()).toBe(0);
    // Sockets in the pod servers close asynchronously; give them a moment, then compare.
    await waitFor(() => openFds() - pooledFds() <= before + 2, `descriptors back to ${before}`, 10_000);
  }, 60_000);
});
