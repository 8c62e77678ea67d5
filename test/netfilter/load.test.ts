import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../netmodel/errors.js';
import { emptyRuleset, loadRestore, renderSave } from '../../netmodel/netfilter/index.js';

function loadErr(text: string): string {
  try {
    loadRestore(emptyRuleset(4), text);
  } catch (e) {
    expect((e as { code: string }).code).toBe(ErrorCodes.RULES);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('loading rules (iptables-restore semantics)', () => {
  it('rejects a jump to a chain that does not exist, naming the line', () => {
    expect(loadErr('*filter\n:X - [0:0]\n-A X -j NOPE\nCOMMIT\n')).toMatch(
      /^line 3: Chain 'NOPE' does not exist/,
    );
  });
  it('rejects loops reachable from a built-in chain, accepts unreachable ones (as Linux)', () => {
    expect(loadErr('*filter\n:X - [0:0]\n:Y - [0:0]\n-A X -j Y\n-A Y -g X\n-A INPUT -j X\nCOMMIT\n')).toMatch(
      /loop/,
    );
    expect(loadErr('*filter\n:X - [0:0]\n-A X -j X\n-A FORWARD -j X\nCOMMIT\n')).toMatch(/X -> X/);
    expect(() =>
      loadRestore(emptyRuleset(4), '*filter\n:X - [0:0]\n:Y - [0:0]\n-A X -j Y\n-A Y -j X\nCOMMIT\n'),
    ).not.toThrow();
  });
  it('reports bad input with the line and a fix', () => {
    expect(loadErr('*filter\n-A INPUT -p tcp --dport http -j ACCEPT\nCOMMIT\n')).toMatch(
      /^line 2: invalid port range "http"/,
    );
    expect(loadErr('*filter\n-A INPUT --dport 80 -j ACCEPT\nCOMMIT\n')).toMatch(/need -p tcp/);
    expect(loadErr('*nat\n-A PREROUTING -j DNAT --to-destination 1.2.3.4:80\nCOMMIT\n')).toMatch(
      /Need TCP, UDP, SCTP/,
    );
    expect(loadErr('*filter\n-A INPUT -m multiport --dports 1,2 -p tcp -j ACCEPT\nCOMMIT\n')).toMatch(
      /multiport needs/,
    );
    expect(loadErr('*filter\n-A INPUT -m statistic --mode nth --every 3 -j ACCEPT\nCOMMIT\n')).toMatch(
      /requires "--packet"/,
    );
    expect(loadErr('*filter\n-A INPUT -j ACCEPT\n')).toMatch(/COMMIT expected/);
    expect(loadErr('*nat\n-A PREROUTING -o eth0 -j ACCEPT\nCOMMIT\n')).toMatch(
      /Can't use -o with PREROUTING/,
    );
    expect(loadErr('*filter\n-A INPUT -m bogus -j ACCEPT\nCOMMIT\n')).toMatch(/unknown match "-m bogus"/);
    expect(loadErr('*filter\n-A INPUT -j REJECT --reject-with tcp-reset\nCOMMIT\n')).toMatch(
      /only valid with -p tcp/,
    );
    expect(loadErr('*filter\n-A INPUT -j DNAT --to-destination 1.1.1.1\nCOMMIT\n')).toMatch(
      /only valid in the nat table/,
    );
    expect(loadErr('*bogus\nCOMMIT\n')).toMatch(/unknown table "bogus"/);
  });
  it('without --noflush a restore replaces the table; other tables are untouched', () => {
    let rs = loadRestore(
      emptyRuleset(4),
      '*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n-A INPUT -j X\nCOMMIT\n*nat\n:A - [0:0]\nCOMMIT\n',
    );
    rs = loadRestore(rs, '*filter\n:Q - [0:0]\nCOMMIT\n');
    expect(renderSave(rs)).toBe(
      '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:Q - [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:A - [0:0]\nCOMMIT\n',
    );
  });
  it('with --noflush: declared user chains are flushed, built-ins only get their policy, others are kept', () => {
    let rs = loadRestore(
      emptyRuleset(4),
      '*filter\n:X - [0:0]\n:Z - [0:0]\n-A INPUT -j X\n-A X -j ACCEPT\n-A Z -j ACCEPT\nCOMMIT\n',
    );
    rs = loadRestore(
      rs,
      '*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n-A INPUT -j ACCEPT\n-A X -j DROP\nCOMMIT\n',
      { noflush: true },
    );
    // Verified against iptables 1.8.9 (nf_tables) in a scratch namespace.
    expect(renderSave(rs)).toBe(
      '*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:X - [0:0]\n:Z - [0:0]\n-A INPUT -j X\n-A INPUT -j ACCEPT\n-A X -j DROP\n-A Z -j ACCEPT\nCOMMIT\n',
    );
    rs = loadRestore(
      rs,
      '*filter\n-F Z\n-X Z\n-N W\n-I INPUT 2 -j W\n-D INPUT 1\n-D INPUT -j ACCEPT\nCOMMIT\n',
      { noflush: true },
    );
    expect(renderSave(rs)).toBe(
      '*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:W - [0:0]\n:X - [0:0]\n-A INPUT -j W\n-A X -j DROP\nCOMMIT\n',
    );
  });
  it('kube-proxy deletes a stale chain with :CHAIN then -X in one restore; a referenced chain cannot go', () => {
    let rs = loadRestore(emptyRuleset(4), '*nat\n:KUBE-SEP-A - [0:0]\n-A KUBE-SEP-A -j ACCEPT\nCOMMIT\n');
    rs = loadRestore(rs, '*nat\n:KUBE-SEP-A - [0:0]\n-X KUBE-SEP-A\nCOMMIT\n', { noflush: true });
    expect(rs.tables.get('nat')!.chains.has('KUBE-SEP-A')).toBe(false);
    expect(loadErr('*nat\n:A - [0:0]\n-A PREROUTING -j A\n-X A\nCOMMIT\n')).toMatch(
      /still referenced from PREROUTING/,
    );
  });
  it('counters are applied only with --counters; -c and [p:b] forms', () => {
    const text =
      '*filter\n:INPUT ACCEPT [5:300]\n[1:2] -A INPUT -j ACCEPT\n-c 3 4 -A INPUT -j DROP\n-A INPUT -c 5 6 -j DROP\nCOMMIT\n';
    const withC = loadRestore(emptyRuleset(4), text, { counters: true })
      .tables.get('filter')!
      .chains.get('INPUT')!;
    expect(withC.counters).toEqual({ packets: 5, bytes: 300 });
    expect(withC.rules.map((r) => r.counters)).toEqual([
      { packets: 1, bytes: 2 },
      { packets: 3, bytes: 4 },
      { packets: 5, bytes: 6 },
    ]);
    const without = loadRestore(emptyRuleset(4), text).tables.get('filter')!.chains.get('INPUT')!;
    expect(without.rules.map((r) => r.counters.packets)).toEqual([0, 0, 0]);
  });
  it('quoting: double quotes group, backslash escapes inside quotes, single quotes are literal', () => {
    const rs = loadRestore(
      emptyRuleset(4),
      `*filter\n-A INPUT -m comment --comment "a \\"b\\" c" -m comment --comment 'x' -m comment --comment "" -j ACCEPT\nCOMMIT\n`,
    );
    expect(renderSave(rs)).toContain(
      `-A INPUT -m comment --comment "a \\"b\\" c" -m comment --comment "\\'x\\'" -m comment --comment "" -j ACCEPT`,
    );
  });
});
