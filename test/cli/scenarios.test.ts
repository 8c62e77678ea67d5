/** Each troubleshooting scenario in examples/scenarios shows the symptom its README describes. */
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import type { OutcomeJson } from '../../netmodel/trace/index.js';

async function trace(
  ...argv: string[]
): Promise<OutcomeJson & { path?: { arrived: { kind: string; from?: string; pod?: string } } }> {
  const io = bufferIO();
  expect(await main(['trace', ...argv, '-o', 'json'], io)).toBe(0);
  return (
    JSON.parse(io.stdout()) as {
      outcomes: (OutcomeJson & { path?: { arrived: { kind: string; from?: string } } })[];
    }
  ).outcomes[0]!;
}

describe('troubleshooting scenarios', () => {
  it('no-endpoints: the selector matches no pod, so kube-proxy REJECTs', async () => {
    const o = await trace(
      '-f',
      'examples/scenarios/no-endpoints',
      '--from',
      'pod/default/client',
      '--to',
      'svc/default/api',
    );
    expect(o.verdict).toBe('REJECT');
    expect(
      o.hops.some(
        (h) => h.kind === 'table' && h.rules.some((r) => r.rule.includes('"default/api has no endpoints"')),
      ),
    ).toBe(true);
  });

  it('local-nodeport: node-b has no local endpoint and drops; node-a keeps the client address', async () => {
    const b = await trace(
      '-f',
      'examples/scenarios/local-nodeport',
      '--node',
      'node-b',
      '--src',
      '192.0.2.7',
      '--dst',
      '10.0.0.12:30100',
    );
    expect(b.verdict).toBe('DROP');
    const a = await trace(
      '-f',
      'examples/scenarios/local-nodeport',
      '--node',
      'node-a',
      '--src',
      '192.0.2.7',
      '--dst',
      '10.0.0.11:30100',
    );
    expect(a.verdict).toBe('ACCEPT');
    expect(a.masquerade).toBe(false);
    expect(a.path?.arrived.from).toMatch(/^192\.0\.2\.7:/);
  });

  it('source-ip: the endpoint on the other node sees node-a, not the client', async () => {
    const o = await trace(
      '-f',
      'examples/scenarios/source-ip',
      '--node',
      'node-a',
      '--src',
      '192.0.2.7',
      '--dst',
      '10.0.0.11:30200',
    );
    expect(o.masquerade).toBe(true);
    expect(o.path?.arrived).toMatchObject({ kind: 'pod', pod: 'default/web-0' });
    expect(o.path?.arrived.from).toMatch(/^10\.0\.0\.11:/);
  });
});
