import { describe, expect, it } from 'vitest';
import { formatSelector, type LabelSelector, matchesSelector } from '../../netmodel/cluster/index.js';

const sel = (
  matchLabels: Record<string, string>,
  matchExpressions: LabelSelector['matchExpressions'] = [],
): LabelSelector => ({
  matchLabels,
  matchExpressions,
});

describe('label selectors (apimachinery semantics)', () => {
  it('an empty selector matches everything', () => {
    expect(matchesSelector(sel({}), {})).toBe(true);
    expect(matchesSelector(sel({}), { a: 'b' })).toBe(true);
  });
  it('matchLabels needs every key with the same value', () => {
    expect(matchesSelector(sel({ app: 'web', tier: 'fe' }), { app: 'web', tier: 'fe', x: 'y' })).toBe(true);
    expect(matchesSelector(sel({ app: 'web', tier: 'fe' }), { app: 'web' })).toBe(false);
    expect(matchesSelector(sel({ app: 'web' }), { app: 'Web' })).toBe(false);
  });
  it('In needs the key and one of the values', () => {
    const s = sel({}, [{ key: 'env', operator: 'In', values: ['prod', 'stage'] }]);
    expect(matchesSelector(s, { env: 'prod' })).toBe(true);
    expect(matchesSelector(s, { env: 'dev' })).toBe(false);
    expect(matchesSelector(s, {})).toBe(false);
  });
  it('NotIn matches objects without the key', () => {
    const s = sel({}, [{ key: 'env', operator: 'NotIn', values: ['prod'] }]);
    expect(matchesSelector(s, {})).toBe(true);
    expect(matchesSelector(s, { env: 'dev' })).toBe(true);
    expect(matchesSelector(s, { env: 'prod' })).toBe(false);
  });
  it('Exists and DoesNotExist look only at the key', () => {
    expect(matchesSelector(sel({}, [{ key: 'gpu', operator: 'Exists', values: [] }]), { gpu: '' })).toBe(
      true,
    );
    expect(matchesSelector(sel({}, [{ key: 'gpu', operator: 'Exists', values: [] }]), {})).toBe(false);
    expect(matchesSelector(sel({}, [{ key: 'gpu', operator: 'DoesNotExist', values: [] }]), {})).toBe(true);
    expect(
      matchesSelector(sel({}, [{ key: 'gpu', operator: 'DoesNotExist', values: [] }]), { gpu: 'a' }),
    ).toBe(false);
  });
  it('all requirements are ANDed', () => {
    const s = sel({ app: 'web' }, [
      { key: 'env', operator: 'In', values: ['prod'] },
      { key: 'canary', operator: 'DoesNotExist', values: [] },
    ]);
    expect(matchesSelector(s, { app: 'web', env: 'prod' })).toBe(true);
    expect(matchesSelector(s, { app: 'web', env: 'prod', canary: 'true' })).toBe(false);
    expect(matchesSelector(s, { app: 'db', env: 'prod' })).toBe(false);
  });
  it('does not treat inherited properties as labels', () => {
    expect(matchesSelector(sel({}, [{ key: 'toString', operator: 'Exists', values: [] }]), {})).toBe(false);
  });
  it('prints like kubectl', () => {
    expect(
      formatSelector(
        sel({ app: 'web' }, [
          { key: 'env', operator: 'In', values: ['b', 'a'] },
          { key: 'x', operator: 'DoesNotExist', values: [] },
        ]),
      ),
    ).toBe('app=web,env in (a,b),!x');
  });
});
