/**
 * Built-in chains without rules (every mangle chain on a kube-proxy node) are answered from their
 * policy without setting up an evaluation: the verdict, the policy counters and the trace must be
 * exactly those of a full evaluation.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import type { EvalContext } from '../../netmodel/netfilter/index.js';
import {
  emptyRuleset,
  evaluate,
  IpSetStore,
  loadRestore,
  NetfilterState,
  NfAcct,
  policyVerdict,
  RecentTables,
  renderSave,
} from '../../netmodel/netfilter/index.js';
import { packet } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';

const RULES = [
  '*mangle',
  ':PREROUTING ACCEPT [0:0]',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD DROP [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
  ':UNUSED - [0:0]',
  '-A OUTPUT -j MARK --set-xmark 0x1/0xffffffff',
  'COMMIT',
  '',
].join('\n');

const ctx = (over: Partial<EvalContext> = {}): EvalContext => ({
  now: 0,
  rng: new SeededRng(1),
  state: new NetfilterState(new RecentTables(), new IpSetStore(), new NfAcct()),
  ...over,
});

const p = packet({
  proto: 'tcp',
  src: parseIP('10.244.1.5'),
  dst: parseIP('10.96.0.10'),
  sport: 1,
  dport: 80,
  length: 100,
});

describe('policy-only built-in chains', () => {
  it('give the policy verdict, count it, and leave the packet as it was', () => {
    const rs = loadRestore(emptyRuleset(4), RULES);
    for (const index of [true, false]) {
      const pre = evaluate(rs, 'mangle', 'PREROUTING', p, ctx({ index }));
      expect(pre).toEqual({
        verdict: { kind: 'ACCEPT' },
        byPolicy: true,
        packet: p,
        notrack: false,
        trace: [],
        logs: [],
      });
      expect(pre.packet).toBe(p);
      const fwd = evaluate(rs, 'mangle', 'FORWARD', p, ctx({ index }));
      expect(fwd.verdict).toEqual({ kind: 'DROP' });
      expect(fwd.byPolicy).toBe(true);
    }
    // Twice each (indexed and reference): 2 packets, 200 bytes on PREROUTING and FORWARD.
    const save = renderSave(rs, { counters: true });
    expect(save).toContain(':PREROUTING ACCEPT [2:200]');
    expect(save).toContain(':FORWARD DROP [2:200]');
    expect(save).toContain(':INPUT ACCEPT [0:0]');
    // A chain with rules still runs them.
    const out = evaluate(rs, 'mangle', 'OUTPUT', p, ctx());
    expect(out.packet.mark).toBe(1);
  });

  it('policyVerdict: the policy, counted as evaluate counts it, for chains without rules only', () => {
    const rs = loadRestore(emptyRuleset(4), RULES);
    expect(policyVerdict(rs, 'mangle', 'PREROUTING', p)).toEqual({ kind: 'ACCEPT' });
    expect(policyVerdict(rs, 'mangle', 'FORWARD', p)).toEqual({ kind: 'DROP' });
    // A chain with rules needs an evaluation; nothing is counted.
    expect(policyVerdict(rs, 'mangle', 'OUTPUT', p)).toBeUndefined();
    // A table that is not loaded accepts, as evaluate does, and counts nothing.
    expect(policyVerdict(rs, 'raw', 'PREROUTING', p)).toEqual({ kind: 'ACCEPT' });
    const save = renderSave(rs, { counters: true });
    expect(save).toContain(':PREROUTING ACCEPT [1:100]');
    expect(save).toContain(':FORWARD DROP [1:100]');
    expect(save).toContain(':OUTPUT ACCEPT [0:0]');
    expect(save).not.toContain('*raw');
  });

  it('traced: the same chain and policy entries as a full evaluation', () => {
    const rs = loadRestore(emptyRuleset(4), RULES);
    const r = evaluate(rs, 'mangle', 'FORWARD', p, ctx({ trace: true }));
    expect(r.trace).toEqual([
      { kind: 'chain', table: 'mangle', chain: 'FORWARD' },
      { kind: 'policy', table: 'mangle', chain: 'FORWARD', policy: 'DROP' },
    ]);
    expect(renderSave(rs, { counters: true })).toContain(':FORWARD DROP [1:100]');
  });
});
