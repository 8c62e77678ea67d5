import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import type { OutcomeJson } from '../../netmodel/trace/index.js';

async function kpath(...argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('kpath trace', () => {
  it('--all on the bundled example: one outcome per web pod, 1/3 each, no masquerade from a pod', async () => {
    const r = await kpath(
      'trace',
      '--from',
      'pod/default/client',
      '--to',
      'svc/default/web:http',
      '--all',
      '-o',
      'json',
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      node: string;
      entry: string;
      packet: { src: string; dport: number };
      outcomes: OutcomeJson[];
    };
    expect(j.node).toBe('worker-1');
    expect(j.entry).toBe('PREROUTING');
    expect(j.packet.dport).toBe(80);
    expect(j.outcomes).toHaveLength(3);
    for (const o of j.outcomes) {
      expect(o.verdict).toBe('ACCEPT');
      expect(o.probability).toBeCloseTo(1 / 3, 9);
      expect(o.dnat).toMatch(/^10\.244\.[12]\.\d+:8080$/);
      expect(o.masquerade).toBe(false);
      expect(
        o.hops.some(
          (h) => h.kind === 'table' && h.table === 'nat' && h.rules.some((x) => x.rule.includes('DNAT')),
        ),
      ).toBe(true);
    }
    expect(new Set(j.outcomes.map((o) => o.dnat)).size).toBe(3);
  });

  it('text output names chains with their kube-proxy meaning and the conntrack entry', async () => {
    const r = await kpath('trace', '--from', 'pod/default/client', '--to', 'svc/default/web', '--seed', '7');
    expect(r.out).toMatch(/^Trace on node worker-1: tcp 10\.244\.1\.\d+:43210 -> 10\.\d+\.\d+\.\d+:80/);
    expect(r.out).toContain('KUBE-SERVICES  -- kube-proxy: one rule per service IP and port');
    expect(r.out).toMatch(/=> DNAT to 10\.244\.[12]\.\d+:8080/);
    expect(r.out).toMatch(/conntrack entry: tcp {6}6 120 SYN_SENT src=10\.244\.1\.\d+ /);
    expect(r.out).toMatch(/one of 3 possible paths, chosen with seed 7/);
  });

  it('a node process to a NodePort of another node, and REJECT for a port with no endpoints', async () => {
    const np = JSON.parse(
      (
        await kpath(
          'trace',
          '--node',
          'worker-1',
          '--src',
          '10.0.0.12',
          '--to',
          'node/worker-1:30080',
          '--all',
          '-o',
          'json',
        )
      ).out,
    ) as { entry: string; outcomes: OutcomeJson[] };
    expect(np.entry).toBe('OUTPUT');
    expect(np.outcomes.every((o) => o.masquerade)).toBe(true);
  });

  it('--rules traces through a pasted iptables-save dump', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpath-trace-'));
    const dump = join(dir, 'node.txt');
    writeFileSync(
      dump,
      [
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':INPUT ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':POSTROUTING ACCEPT [0:0]',
        '-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.1.7:53',
        'COMMIT',
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':FORWARD DROP [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        '-A FORWARD -d 10.244.1.7/32 -p udp -j ACCEPT',
        'COMMIT',
        '',
      ].join('\n'),
    );
    const r = await kpath(
      'trace',
      '--rules',
      dump,
      '--node-address',
      '10.0.0.11/24',
      '--pod-cidr',
      '10.244.1.0/24',
      '--src',
      '10.244.1.5',
      '--dst',
      '10.96.0.10:53',
      '--proto',
      'udp',
      '-o',
      'json',
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { outcomes: OutcomeJson[] };
    expect(j.outcomes[0]).toMatchObject({ verdict: 'ACCEPT', dnat: '10.244.1.7:53' });
    const blocked = await kpath(
      'trace',
      '--rules',
      dump,
      '--node-address',
      '10.0.0.11/24',
      '--pod-cidr',
      '10.244.1.0/24',
      '--src',
      '10.244.1.5',
      '--dst',
      '10.244.1.8:80',
      '-o',
      'json',
    );
    expect((JSON.parse(blocked.out) as { outcomes: OutcomeJson[] }).outcomes[0]!.verdict).toBe('DROP');
  });

  it('bad shorthands say what is expected (exit 2), unknown objects are named (exit 1)', async () => {
    const bad = await kpath('trace', '--from', 'pod/nope', '--to', 'svc/default/web');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /--from pod\/nope: expected pod\/NAMESPACE\/NAME or node\/NAME \[KPATH_E_USAGE\]/,
    );
    const ghost = await kpath('trace', '--from', 'pod/default/client', '--to', 'svc/default/ghost');
    expect(ghost.code).toBe(1);
    expect(ghost.err).toMatch(/service default\/ghost does not exist/);
  });

  it('follows the packet across nodes to the pod, and the reply back through conntrack (un-DNAT)', async () => {
    const r = await kpath(
      'trace',
      '--from',
      'pod/default/client',
      '--to',
      'svc/default/web',
      '--all',
      '-o',
      'json',
    );
    const j = JSON.parse(r.out) as {
      outcomes: (OutcomeJson & {
        path: {
          forward: { node: string }[];
          arrived: { kind: string; pod?: string; to?: string };
          reply: { node: string; snat: string | null }[];
          replyArrived: { kind: string; pod?: string; from?: string };
        };
      })[];
    };
    const svcIP = j.outcomes[0]!.hops.find((h) => h.kind === 'table' && h.hook === 'PREROUTING')!;
    expect(svcIP).toBeTruthy();
    for (const o of j.outcomes) {
      expect(o.path.arrived.kind).toBe('pod');
      expect(o.path.arrived.pod).toMatch(/^default\/web-/);
      expect(o.path.arrived.to).toBe(o.dnat);
      // Endpoints on worker-2 are reached through worker-2's kernel.
      expect(o.path.forward.map((h) => h.node)).toEqual(
        o.dnat!.startsWith('10.244.2.') ? ['worker-1', 'worker-2'] : ['worker-1'],
      );
      // The client sees the reply come from the service, not the pod: worker-1's conntrack un-DNATs it.
      expect(o.path.replyArrived).toMatchObject({ kind: 'pod', pod: 'default/client' });
      expect(o.path.replyArrived.from).toMatch(/^10\.\d+\.\d+\.\d+:80$/);
      expect(o.path.replyArrived.from).not.toMatch(/^10\.244\./);
    }
    const text = (await kpath('trace', '--from', 'pod/default/client', '--to', 'svc/default/web')).out;
    expect(text).toContain('Following the packet:');
    expect(text).toMatch(/=> pod default\/client on worker-1 receives tcp from 10\.\d+\.\d+\.\d+:80/);
    expect(
      (await kpath('trace', '--from', 'pod/default/client', '--to', 'svc/default/web', '--no-follow')).out,
    ).not.toContain('Following');
  });
});
