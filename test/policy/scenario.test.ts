/**
 * examples/scenarios/netpol-dns: the README's commands show both traps (DNS dropped by a default-deny
 * egress; an allow rule naming the Service port where policy sees the container port), and the fix
 * the README gives makes both work.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';

const DIR = 'examples/scenarios/netpol-dns';

async function run(argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function fixed(): string {
  const text = readFileSync(join(DIR, 'cluster.yaml'), 'utf8');
  const dns = `    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
`;
  const out = text
    .replace(/( {2}name: allow-frontend-to-api[\s\S]*?ports:\n {8}- port: )80\n/, '$18080\n')
    .replace(/( {2}name: allow-frontend-to-api[\s\S]*? {2}egress:\n)/, `$1${dns}`);
  expect(out).not.toBe(text);
  const dir = mkdtempSync(join(tmpdir(), 'kpath-netpol-fix-'));
  writeFileSync(join(dir, 'cluster.yaml'), out);
  return dir;
}

describe('scenario netpol-dns', () => {
  it('the DNS query is dropped leaving the frontend pod: in trace and in dns resolve', async () => {
    const t = await run([
      'trace',
      '-f',
      DIR,
      '--from',
      'pod/shop/frontend',
      '--to',
      'svc/kube-system/kube-dns:dns',
      '-o',
      'json',
    ]);
    expect(t.code).toBe(0);
    const path = JSON.parse(t.out).outcomes[0].path;
    expect(path.policy.egress).toMatchObject({ pod: 'shop/frontend', allowed: false, node: 'node-1' });
    expect(path.policy.egress.reason).toContain(
      'no rule allows UDP/53 to 10.244.2.67 (pod kube-system/coredns)',
    );
    const r = await run(['dns', 'resolve', 'api', '-f', DIR, '--from', 'pod/shop/frontend']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('# NetworkPolicy drops every query from shop/frontend to kube-dns:');
  });

  it('the allow rule names port 80 (the Service port); policy sees 8080 after DNAT', async () => {
    const c = await run([
      'policy',
      'check',
      '-f',
      DIR,
      '--from',
      'pod/shop/frontend',
      '--to',
      'pod/shop/api:http',
    ]);
    expect(c.code).toBe(1);
    expect(c.out).toContain('no rule allows TCP/8080 to 10.244.2.66 (pod shop/api)');
  });

  it("the README's fix: DNS resolves and the frontend reaches the api", async () => {
    const dir = fixed();
    const r = await run(['dns', 'resolve', 'api', '-f', dir, '--from', 'pod/shop/frontend']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain('resolved as api.shop.svc.cluster.local');
    const c = await run([
      'policy',
      'check',
      '-f',
      dir,
      '--from',
      'pod/shop/frontend',
      '--to',
      'pod/shop/api:http',
    ]);
    expect(c.code, c.out).toBe(0);
    const t = await run([
      'trace',
      '-f',
      dir,
      '--from',
      'pod/shop/frontend',
      '--to',
      'svc/shop/api',
      '-o',
      'json',
    ]);
    expect(JSON.parse(t.out).outcomes[0].path.arrived).toMatchObject({ kind: 'pod', pod: 'shop/api' });
  });
});
