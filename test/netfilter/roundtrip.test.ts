import { describe, expect, it } from 'vitest';
import {
  emptyRuleset,
  loadRestore,
  parseSave,
  renderRestore,
  renderSave,
} from '../../netmodel/netfilter/index.js';
import { fixture, SAVE_FIXTURES, saveHeader } from './fixtures.js';

const family = (name: string) => (name === 'ipv6' ? 6 : 4);

describe('iptables-save fixtures from real iptables 1.8.9', () => {
  for (const name of SAVE_FIXTURES) {
    it(`${name}: renderSave(parseSave(text)) === text, with and without counters`, () => {
      for (const file of [`${name}.save`, `${name}-counters.save`]) {
        const text = fixture(file);
        const rs = parseSave(text, { family: family(name) });
        expect(renderSave(rs, { header: saveHeader(text), counters: file.includes('counters') })).toBe(text);
      }
    });

    it(`${name}: parse(renderRestore(x)) deep-equals x`, () => {
      const rs = parseSave(fixture(`${name}-counters.save`), { family: family(name) });
      const again = loadRestore(emptyRuleset(family(name)), renderRestore(rs, { counters: true }), {
        counters: true,
      });
      expect(again).toEqual(rs);
      const viaSave = parseSave(renderSave(rs, { counters: true }), { family: family(name) });
      expect(viaSave).toEqual(rs);
    });
  }

  it('the restore input that produced each fixture loads into the same rules', () => {
    for (const name of ['matches-1', 'matches-2', 'matches-3', 'ipv6'] as const) {
      const fam = family(name);
      const loaded = loadRestore(emptyRuleset(fam), fixture(`${name}.restore`), { counters: true });
      const saved = parseSave(fixture(`${name}-counters.save`), { family: fam });
      for (const [t, table] of saved.tables) {
        expect(
          renderSave({ family: fam, tables: new Map([[t, loaded.tables.get(t)!]]) }, { counters: true }),
        ).toBe(renderSave({ family: fam, tables: new Map([[t, table]]) }, { counters: true }));
      }
    }
  });

  it('kube-proxy restore input (noflush, partial) matches what iptables-save printed', () => {
    let rs = loadRestore(emptyRuleset(4), fixture('kube-proxy-sync.restore'), { noflush: true });
    rs = loadRestore(
      rs,
      [
        '*nat',
        '-I PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-I POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        'COMMIT',
        '*filter',
        '-I FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-I OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A INPUT -j KUBE-FIREWALL',
        'COMMIT',
        '',
      ].join('\n'),
      { noflush: true },
    );
    const text = fixture('kube-proxy.save');
    expect(renderSave(rs, { header: saveHeader(text), tables: ['filter', 'nat'] })).toBe(text);
  });
});
