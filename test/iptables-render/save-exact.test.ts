/**
 * `kpath rules` predicts what iptables-save prints on a node: the emulated kernel, programmed the way
 * kube-proxy programs a real one, must print exactly what real iptables-save prints after the same
 * setup commands and iptables-restore --noflush payload, in a network namespace of our own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelNode } from '../../netmodel/kernel/index.js';
import {
  applyFullSync,
  applyPartialSync,
  renderNode,
  renderPartialSync,
  setupCommands,
} from '../../proxy/iptables/index.js';
import { loadCluster } from '../../proxy/manifest-files.js';
import { snapshotOf, svc } from '../helpers/cluster.js';

const NS = `kpath-save-${process.pid}`;
const root = process.getuid?.() === 0;
const tools = ['/usr/sbin/iptables-restore', '/usr/sbin/iptables-save', '/usr/sbin/ip'].every((p) =>
  existsSync(p),
);
const skip = !root
  ? 'needs root (network namespaces)'
  : !tools
    ? 'needs iptables and iproute2 (.ci/run installs them)'
    : '';

function inNs(args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', NS, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function realSave(): string {
  return inNs(['iptables-save'])
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

function flushAll(): void {
  for (const t of ['mangle', 'nat', 'filter', 'raw']) {
    inNs(['iptables', '-t', t, '-F']);
    inNs(['iptables', '-t', t, '-X']);
  }
}

describe.skipIf(skip !== '')(`emulated iptables-save equals real iptables-save ${skip}`, () => {
  beforeAll(() => {
    try {
      execFileSync('ip', ['netns', 'delete', NS], { stdio: 'ignore' });
    } catch {
      // not there
    }
    execFileSync('ip', ['netns', 'add', NS]);
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'delete', NS]);
  });

  const r = loadCluster([]);
  if (!r.ok) throw new Error('the bundled example must be valid');
  const example = r.snapshot;

  for (const node of example.nodes.map((n) => n.meta.name)) {
    it(`full sync of the bundled example on ${node}`, () => {
      flushAll();
      const render = renderNode(example, node);
      for (const c of setupCommands()) inNs(c.match(/'[^']*'|\S+/g)!.map((a) => a.replace(/^'|'$/g, '')));
      inNs(['iptables-restore', '--noflush'], render.restore);
      const k = new KernelNode({ name: node });
      applyFullSync(k, render);
      expect(k.save()).toBe(realSave());
    });
  }

  it('a partial sync after a change', () => {
    flushAll();
    const before = snapshotOf(
      svc('a'),
      svc('b', { type: 'NodePort' }),
      svc('c', { sessionAffinity: 'ClientIP' }),
    );
    const after = snapshotOf(
      svc('a', { ports: [{ port: 8080 }] }),
      svc('c', { sessionAffinity: 'ClientIP' }),
      svc('d'),
    );
    const full = renderNode(before, 'node-1');
    for (const c of setupCommands()) inNs(c.match(/'[^']*'|\S+/g)!.map((a) => a.replace(/^'|'$/g, '')));
    inNs(['iptables-restore', '--noflush'], full.restore);
    const partial = renderPartialSync(before, after, 'node-1', full.state);
    inNs(['iptables-restore', '--noflush'], partial.restore);
    const k = new KernelNode({ name: 'node-1' });
    applyFullSync(k, full);
    applyPartialSync(k, partial);
    expect(k.save()).toBe(realSave());
  });
});
