/** `kpath kubeconfig`: the path, and --merge adding the kpath entries to another kubeconfig without touching the rest. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { writeKubeconfig } from '../../proxy/api/index.js';

describe('kpath kubeconfig', () => {
  it('prints the path, and --merge adds cluster, user and context "kpath", keeping the current context', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpath-kc-'));
    const own = join(dir, 'kpath-kubeconfig');
    writeKubeconfig(
      own,
      'https://127.0.0.1:6443',
      '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
      'tok',
    );
    const io = bufferIO(dir);
    expect(await main(['kubeconfig', '--kubeconfig', own], io)).toBe(0);
    expect(io.stdout()).toBe(`${own}\n`);
    const target = join(dir, 'config');
    writeFileSync(
      target,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: "https://prod:6443"}\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod}\nusers:\n- name: prod\n  user: {token: p}\ncurrent-context: prod\n',
    );
    const io2 = bufferIO(dir);
    expect(await main(['kubeconfig', '--kubeconfig', own, '--merge', '--into', target], io2)).toBe(0);
    const merged = parse(readFileSync(target, 'utf8'));
    expect(merged['current-context']).toBe('prod');
    expect(merged.clusters.map((c: { name: string }) => c.name)).toEqual(['prod', 'kpath']);
    expect(merged.users.find((u: { name: string }) => u.name === 'kpath').user.token).toBe('tok');
    expect(merged.contexts.find((c: { name: string }) => c.name === 'kpath').context).toEqual({
      cluster: 'kpath',
      user: 'kpath',
    });
    // Merging twice replaces the entries instead of adding a second copy.
    expect(await main(['kubeconfig', '--kubeconfig', own, '--merge', '--into', target], bufferIO(dir))).toBe(
      0,
    );
    expect(parse(readFileSync(target, 'utf8')).clusters).toHaveLength(2);
    const missing = bufferIO(dir);
    expect(
      await main(['kubeconfig', '--kubeconfig', join(dir, 'nope'), '--merge', '--into', target], missing),
    ).toBe(2);
    expect(missing.stderr()).toContain('start `kpath up` once to write it');
  });
});
