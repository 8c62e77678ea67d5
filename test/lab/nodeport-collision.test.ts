/** Lab nodeport-collision: a node port belongs to one Service; the re-created shop got a random one. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { detail, lab, roundTrip } from './helpers.js';

it('nodeport-collision: customers reach admin-0 on 30080 until the ports are sorted out', async () => {
  const { broken, fixed } = await roundTrip('nodeport-collision');
  expect(detail(broken, 'customers on 10.0.0.11:30080 reach the shop')).toBe(
    'answered by default/admin-0 x4; expected only shop-*',
  );
  expect(broken.checks.find((c) => c.name === 'the operators reach the admin UI')?.passed).toBe(true);
  expect(detail(fixed, 'customers on 10.0.0.11:30080 reach the shop')).toMatch(/from default\/shop-/);
});

it('nodeport-collision: claiming 30080 twice is refused as the API server refuses it, exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kpath-lab-np-'));
  try {
    expect((await lab('start', 'nodeport-collision', '--dir', dir, '--force')).code).toBe(0);
    const f = join(dir, 'cluster.yaml');
    writeFileSync(
      f,
      readFileSync(f, 'utf8').replace(
        '      targetPort: 8080\n---',
        '      targetPort: 8080\n      nodePort: 30080\n---',
      ),
    );
    const r = await lab('check', '--dir', dir);
    expect(r.code).toBe(2);
    // kube-apiserver's words (pkg/registry/core/service/portallocator: ErrAllocated).
    expect(r.err).toContain('provided port 30080 is already allocated');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
