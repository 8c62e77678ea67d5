/**
 * Network-namespace plumbing shared by the real-kernel harnesses (test/kernel-diff, test/podnet-diff):
 * running a command and collecting its output, checking the machine can host namespaces at all, and
 * removing namespaces a harness created, including those left behind by a harness process that died.
 *
 * Every harness names its namespaces `<prefix><pid>-<suffix>`, so a later run can tell which ones
 * belong to a process that is gone.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Exec {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Runs a command (never through a shell); resolves with its output and exit code, never rejects. */
export function exec(
  cmd: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 10_000,
): Promise<Exec> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ stdout, stderr, code });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs a command and returns its stdout; throws naming the command and its stderr when it fails. */
export async function must(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await exec(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Is `tool` installed in one of the usual system directories? */
export function hasTool(tool: string): boolean {
  return ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(join(d, tool)));
}

/**
 * Why namespaces cannot be used here, or undefined when they can: Linux, root, the tools (each with
 * the package that holds it), and a probe namespace that really gets created (then `probe`, if given,
 * runs inside it, e.g. to check the kernel can make a vxlan device there).
 */
export async function netnsUnavailable(
  prefix: string,
  why: string,
  tools: readonly (readonly [tool: string, pkg: string])[],
  probe?: (ns: string) => Promise<string | undefined>,
): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'not Linux: network namespaces are a Linux feature';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return `not root: ${why} needs root (CI runs as root)`;
  for (const [tool, pkg] of tools)
    if (!hasTool(tool)) return `${tool} is not installed (apt-get install ${pkg})`;
  const ns = `${prefix}${process.pid}-probe`;
  const add = await exec('ip', ['netns', 'add', ns]);
  if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  try {
    return probe ? await probe(ns) : undefined;
  } finally {
    await exec('ip', ['netns', 'del', ns]);
  }
}

/** Deletes namespaces named `<prefix><pid>-...` whose process is gone (left by a run that was killed). */
export async function cleanupStaleNamespaces(prefix: string): Promise<void> {
  const list = await exec('ip', ['netns', 'list']);
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-`);
  for (const line of list.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = pid === process.pid;
    if (!alive) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (!alive) await exec('ip', ['netns', 'del', name]);
  }
}

/** The namespaces of this process with `prefix` that still exist (for an after-all check). */
export async function leftoverNamespaces(prefix: string): Promise<string[]> {
  const list = await exec('ip', ['netns', 'list']);
  return list.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}${process.pid}-`));
}

/**
 * A set of namespaces created one by one and removed together (in reverse order), whatever failed in
 * between: `add` records a namespace only once it exists.
 */
export class Namespaces {
  private readonly names: string[] = [];

  async add(name: string, sysctls: readonly string[] = []): Promise<void> {
    await must('ip', ['netns', 'add', name]);
    this.names.push(name);
    if (sysctls.length) await must('ip', ['netns', 'exec', name, 'sysctl', '-qw', ...sysctls]);
  }

  list(): readonly string[] {
    return this.names;
  }

  async removeAll(): Promise<void> {
    for (const ns of this.names.splice(0).reverse()) await exec('ip', ['netns', 'del', ns]);
  }
}

/** `ip -n NS -batch -` (or `bridge`): one process for a namespace's list of commands. */
export async function batch(tool: 'ip' | 'bridge', ns: string, lines: readonly string[]): Promise<void> {
  const r = await exec(tool, ['-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
  if (r.code !== 0)
    throw new Error(`${tool} -n ${ns} -batch failed (${r.code}): ${r.stderr.trim()}\n${lines.join('\n')}`);
}

/**
 * A client, a router and a server namespace in a line: client c0 10.99.1.2/24 -- r0 10.99.1.1 (router,
 * forwarding) r1 10.99.2.1 -- s0 10.99.2.2/24 server, each end's default route via the router.
 * `mtu` sets the router-server link's MTU (both ends). Every namespace is recorded in `nss`.
 */
export async function routerLine(
  nss: Namespaces,
  names: { readonly client: string; readonly router: string; readonly server: string },
  opts: { readonly mtu?: number } = {},
): Promise<void> {
  const { client: c, router: r, server: s } = names;
  await nss.add(c);
  await nss.add(r, ['net.ipv4.ip_forward=1']);
  await nss.add(s);
  const mtu = opts.mtu !== undefined ? ` mtu ${opts.mtu}` : '';
  await batch('ip', r, [
    `link add r0 type veth peer name c0 netns ${c}`,
    `link add r1${mtu} type veth peer name s0 netns ${s}`,
    'addr add 10.99.1.1/24 dev r0',
    'addr add 10.99.2.1/24 dev r1',
    'link set lo up',
    'link set r0 up',
    'link set r1 up',
  ]);
  await batch('ip', c, [
    'addr add 10.99.1.2/24 dev c0',
    'link set lo up',
    'link set c0 up',
    'route add default via 10.99.1.1',
  ]);
  await batch('ip', s, [
    ...(opts.mtu !== undefined ? [`link set s0 mtu ${opts.mtu}`] : []),
    'addr add 10.99.2.2/24 dev s0',
    'link set lo up',
    'link set s0 up',
    'route add default via 10.99.2.1',
  ]);
}
