/**
 * `kpath completion bash|zsh`: the bash script is sourced in a real bash, its completion function is
 * called as bash calls it (COMP_WORDS, COMP_CWORD), and COMPREPLY is checked. `kpath` on PATH is a
 * shim to this checkout's build (dist/, made by npm ci / npm run build).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';

const bin = resolve(import.meta.dirname, '../../dist/cli/bin.js');
const shimDir = mkdtempSync(join(tmpdir(), 'kpath-compl-'));
writeFileSync(join(shimDir, 'kpath'), `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`, {
  mode: 0o755,
});

/** Source the script once in a real bash and complete each word list as bash would. */
function completeAll(lists: string[][]): string[][] {
  const script = [
    'source <(kpath completion bash)',
    ...lists.map(
      (words) =>
        `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kpath_complete; printf '%s\\n' "\${COMPREPLY[@]}" '--'`,
    ),
  ].join('\n');
  const out = execFileSync('bash', ['-c', script], {
    env: { ...process.env, PATH: `${shimDir}:${process.env.PATH}` },
    encoding: 'utf8',
  });
  return out
    .split('--\n')
    .slice(0, lists.length)
    .map((b) => b.split('\n').filter(Boolean));
}

describe.skipIf(!existsSync(bin))('kpath completion', () => {
  it('bash: commands, resource types after get (also after a comma), options', () => {
    const [cmd, type, comma, opt, curlOpt] = completeAll([
      ['kpath', 'cu'],
      ['kpath', 'get', 'sv'],
      ['kpath', 'get', 'svc,de'],
      ['kpath', 'get', 'pods', '--show-l'],
      ['kpath', 'curl', '--fr'],
    ]);
    expect(cmd).toEqual(['curl']);
    expect(type).toEqual(['svc']);
    expect(comma).toEqual(['svc,deployments', 'svc,deployment', 'svc,deploy']);
    expect(opt).toEqual(['--show-labels']);
    expect(curlOpt).toEqual(['--from']);
  }, 60_000);

  it('zsh: a compdef script that asks kpath for the words', async () => {
    const io = bufferIO();
    expect(await main(['completion', 'zsh'], io)).toBe(0);
    expect(io.stdout()).toMatch(/^#compdef kpath\n/);
    expect(io.stdout()).toContain('kpath --get-yargs-completions');
    expect(io.stdout()).toContain('compdef _kpath_complete kpath');
  });

  it('an unknown shell is a usage error', async () => {
    const io = bufferIO();
    expect(await main(['completion', 'fish'], io)).toBe(2);
    expect(io.stderr()).toMatch(/Invalid values/);
  });
});
