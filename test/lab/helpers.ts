/**
 * One lab's whole path, as a learner takes it, through the CLI in-process: start into a fresh
 * directory, check (real traffic: must fail), solve (the reference patch), check again (must pass).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';

export interface CheckJson {
  passed: boolean;
  checks: { name: string; passed: boolean; detail: string }[];
  events: string[];
}

export async function lab(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIO();
  const code = await main(['lab', ...argv], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

export async function checkJson(dir: string): Promise<{ code: number; report: CheckJson }> {
  const r = await lab('check', '--dir', dir, '-o', 'json');
  if (r.code === 2) throw new Error(`kpath lab check exited 2: ${r.err}`);
  return { code: r.code, report: JSON.parse(r.out) as CheckJson };
}

/** start -> check (exit 1) -> solve -> check (exit 0); returns both reports for closer asserts. */
export async function roundTrip(name: string): Promise<{ broken: CheckJson; fixed: CheckJson }> {
  const dir = join(mkdtempSync(join(tmpdir(), `kpath-lab-${name}-`)), name);
  try {
    expect((await lab('start', name, '--dir', dir)).code).toBe(0);
    const broken = await checkJson(dir);
    expect(broken.code, JSON.stringify(broken.report)).toBe(1);
    expect(broken.report.passed).toBe(false);
    const solved = await lab('solve', '--dir', dir);
    expect(solved.code, solved.err).toBe(0);
    const fixed = await checkJson(dir);
    expect(fixed.report.checks.filter((c) => !c.passed)).toEqual([]);
    expect(fixed.code).toBe(0);
    return { broken: broken.report, fixed: fixed.report };
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
}

export function detail(r: CheckJson, check: string): string {
  const c = r.checks.find((x) => x.name === check);
  if (!c) throw new Error(`no check named "${check}" in ${JSON.stringify(r)}`);
  return c.detail;
}

export function failed(r: CheckJson): string[] {
  return r.checks.filter((c) => !c.passed).map((c) => c.name);
}
