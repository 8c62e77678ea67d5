/**
 * The check kinds' judges, on observations written out: what passes, and the learner-facing detail of
 * what fails (observed against expected, never the fix). The kinds' traffic is exercised by the labs.
 */
import { describe, expect, it } from 'vitest';
import {
  judgeDns,
  judgeHttp,
  judgeTcp,
  parseDns,
  parseHttp,
  parseTcp,
  podMatches,
} from '../../lab/checks/index.js';

const W = 'lab.yaml: checks[0] (t)';

describe('http', () => {
  const ok = (pod: string, seen = '10.244.0.5') => ({
    outcome: 'ok' as const,
    status: 200,
    body: '{}',
    pod,
    node: 'n1',
    seen,
  });

  it('decodes defaults and refuses unknown fields', () => {
    const s = parseHttp({ name: 't', kind: 'http', from: 'external', url: 'http://web/' }, W);
    expect(s).toMatchObject({
      from: 'external/192.0.2.10',
      count: 1,
      expect: { outcome: 'ok', status: 200 },
    });
    expect(() =>
      parseHttp({ name: 't', kind: 'http', from: 'pod/a/b', url: 'http://x/', expect: { stiky: true } }, W),
    ).toThrow(/expect: stiky: unknown field/);
    expect(() => parseHttp({ name: 't', kind: 'http', from: 'somewhere', url: 'http://x/' }, W)).toThrow(
      /from: required/,
    );
  });

  it('sticky and spread count the pods that answered', () => {
    const s = parseHttp(
      {
        name: 't',
        kind: 'http',
        from: 'pod/d/c',
        url: 'http://x/',
        count: 3,
        everySeconds: 60,
        expect: { sticky: true },
      },
      W,
    );
    expect(judgeHttp(s, { answers: [ok('d/a'), ok('d/b'), ok('d/a')] })).toEqual({
      passed: false,
      detail:
        '3 requests 60 s apart were answered by 2 different pods (d/a x2, d/b); expected the same pod every time',
    });
    expect(judgeHttp(s, { answers: [ok('d/a'), ok('d/a'), ok('d/a')] }).passed).toBe(true);
    const spread = parseHttp(
      { name: 't', kind: 'http', from: 'pod/d/c', url: 'http://x/', count: 2, expect: { spread: 2 } },
      W,
    );
    expect(judgeHttp(spread, { answers: [ok('d/a'), ok('d/a')] }).detail).toBe(
      '2 requests were answered by 1 pod (d/a x2); expected at least 2 different pods',
    );
  });

  it('sourceIp client compares with the sender, and failures say what happened instead', () => {
    const s = parseHttp(
      {
        name: 't',
        kind: 'http',
        from: 'external/192.0.2.7',
        url: 'http://10.0.0.11:30000/',
        expect: { sourceIp: 'client' },
      },
      W,
    );
    expect(
      judgeHttp(s, {
        client: '192.0.2.7',
        answers: [{ ...ok('d/a', '10.0.0.11'), seenAs: "node-a's address" }],
      }).detail,
    ).toBe(
      "the pod saw the client as 10.0.0.11 (node-a's address); expected 192.0.2.7 (the client's own address)",
    );
    expect(
      judgeHttp(s, {
        client: '192.0.2.7',
        answers: [{ outcome: 'timeout', message: 'Operation timed out after 1000 milliseconds' }],
      }).detail,
    ).toBe(
      'no answer before the timeout (Operation timed out after 1000 milliseconds); expected an HTTP answer',
    );
  });

  it('servedBy patterns: NAME, NS/NAME, PREFIX*', () => {
    expect(podMatches('default/web-0', 'web-0')).toBe(true);
    expect(podMatches('default/web-0', 'default/web-*')).toBe(true);
    expect(podMatches('data/web-0', 'default/web-*')).toBe(false);
    expect(podMatches('default/worker-1', 'web-*')).toBe(false);
  });
});

describe('tcp and dns', () => {
  it('tcp: expected outcome or what happened instead', () => {
    const s = parseTcp({ name: 't', kind: 'tcp', from: 'pod/d/c', to: 'db:5432', expect: 'ok' }, W);
    expect(judgeTcp(s, { outcome: 'refused', message: 'connection reset by peer' })).toEqual({
      passed: false,
      detail: 'TCP db:5432 from pod/d/c: refused (connection reset by peer); expected an answer',
    });
    expect(() => parseTcp({ name: 't', kind: 'tcp', from: 'pod/d/c', to: 'db', expect: 'ok' }, W)).toThrow(
      /HOST:PORT/,
    );
  });

  it('dns: rcode, answer count and wanted data', () => {
    const s = parseDns(
      {
        name: 't',
        kind: 'dns',
        from: 'pod/d/c',
        query: 'db',
        expect: { answers: ['postgres.data.svc.cluster.local'] },
      },
      W,
    );
    expect(s.expect).toEqual({
      rcode: 'NOERROR',
      answers: ['postgres.data.svc.cluster.local.'],
      minAnswers: 1,
    });
    expect(
      judgeDns(s, {
        steps: [
          {
            name: 'db.d.svc.cluster.local.',
            rcode: 'NOERROR',
            answers: ['CNAME postgres.data.svc.cluster.local.', 'A 10.96.0.9'],
          },
        ],
      }),
    ).toEqual({
      passed: true,
      detail: 'db A from pod/d/c: NOERROR CNAME postgres.data.svc.cluster.local., A 10.96.0.9',
    });
    const miss = judgeDns(s, {
      steps: [
        { name: 'db.d.svc.cluster.local.', rcode: 'NXDOMAIN', answers: [] },
        { name: 'db.', rcode: 'REFUSED', answers: [] },
      ],
    });
    expect(miss.passed).toBe(false);
    expect(miss.detail).toBe(
      'db A from pod/d/c: REFUSED, no answer records (the search path asked db.d.svc.cluster.local. NXDOMAIN (no records), db. REFUSED (no records)); expected NOERROR; expected at least 1 answer record; expected postgres.data.svc.cluster.local. among the answers',
    );
  });
});
