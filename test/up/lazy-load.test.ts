/**
 * `kpath up` loads only the code its run uses (issue 17, idle RSS): a real `kpath up -f
 * examples/demo` (the build in dist/) in a child process whose ESM load hook records every module it
 * loads. In iptables mode with the API off, no IPVS, pcap, web page, API server, Docker host or lab
 * code may be loaded; in ipvs mode IPVS is (the control that shows the hook sees what it should).
 * Each run has a network namespace of its own (the example listens on ports 80 and 53 of its twins),
 * so it needs root.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const bin = join(repo, 'dist/cli/bin.js');
const root = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'kpath-lazy-'));

// The hook runs on the loader thread; it appends each loaded URL to the file named in the environment.
writeFileSync(
  join(dir, 'hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.KPATH_LOAD_LOG, url + '\\n');
  return next(url, context);
}
`,
);
writeFileSync(
  join(dir, 'register.mjs'),
  `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** kpath's own modules (paths under dist/) that `kpath up ARGS` loaded by the time it was ready. */
async function modulesLoaded(name: string, args: readonly string[]): Promise<string[]> {
  const ns = `kp-lazy-${process.pid}-${name}`;
  const log = join(dir, `${name}.log`);
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '--import',
        join(dir, 'register.mjs'),
        bin,
        'up',
        '-f',
        join(repo, 'examples/demo'),
        '--no-watch',
        '--log-level',
        'warn',
        ...args,
      ],
      { env: { ...process.env, KPATH_LOAD_LOG: log }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`kpath up did not get ready in 60 s:\n${err}`)), 60_000);
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('kpath up: ready')) {
          clearTimeout(timer);
          ok();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        fail(new Error(`kpath up exited (${code}) before it was ready:\n${err}`));
      });
    });
    // What loads on the first idle tick counts too (and the SIGINT handler is in place by then).
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
  const dist = `file://${repo}/dist/`;
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((u) => u.startsWith(dist))
    .map((u) => u.slice(dist.length));
}

/** Folders of dist/ a run must not load unless it uses them. */
const UNUSED_IN_IPTABLES_MODE = [
  'netmodel/ipvs/',
  'proxy/ipvs/',
  'netmodel/pcap/',
  'netmodel/capture/',
  'proxy/ui/',
  'proxy/api/',
  'proxy/runtime/docker/',
  'cni/docker/',
  'cni/spec/',
  'lab/',
];

describe.skipIf(!root || !existsSync(bin))('kpath up loads only what the run uses (root: netns)', () => {
  it('iptables mode, API off: no IPVS, pcap, web page, API server, Docker, CNI-spec or lab code', async () => {
    const loaded = await modulesLoaded('ipt', ['--mode', 'iptables', '--api-address', '']);
    // The hook saw the run: the walker and the iptables proxier are there.
    expect(loaded).toContain('netmodel/kernel/walk.js');
    expect(loaded).toContain('proxy/iptables/index.js');
    for (const folder of UNUSED_IN_IPTABLES_MODE)
      expect(loaded.filter((m) => m.startsWith(folder))).toEqual([]);
  }, 90_000);

  it('ipvs mode loads IPVS (and still no pcap)', async () => {
    const loaded = await modulesLoaded('ipvs', ['--mode', 'ipvs', '--api-address', '']);
    expect(loaded).toContain('netmodel/ipvs/hook.js');
    expect(loaded).toContain('proxy/ipvs/program.js');
    expect(loaded.filter((m) => m.startsWith('netmodel/pcap/'))).toEqual([]);
  }, 90_000);
});
