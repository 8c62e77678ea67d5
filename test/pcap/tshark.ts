/** Running the real tshark on a file: the reason it cannot run here, and its fields per frame. */
import { execFileSync, spawnSync } from 'node:child_process';

export function tsharkMissing(): string | undefined {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    return 'tshark is not installed (apt-get install tshark; .ci/run installs it)';
  return undefined;
}

/** Checksum validation on, 8472 decoded as VXLAN (Wireshark only knows 4789 by default). */
export const TSHARK_PREFS = [
  '-o',
  'ip.check_checksum:TRUE',
  '-o',
  'tcp.check_checksum:TRUE',
  '-o',
  'udp.check_checksum:TRUE',
  '-o',
  'sctp.checksum:CRC 32c',
  '-d',
  'udp.port==8472,vxlan',
];

export function tshark(file: string, args: readonly string[]): string {
  return execFileSync('tshark', ['-r', file, ...TSHARK_PREFS, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 << 20,
  });
}

/** `-T fields` for the given names: one row per frame, each field's occurrences split on ','. */
export function tsharkFields(file: string, names: readonly string[]): string[][][] {
  const out = tshark(file, [
    '-T',
    'fields',
    '-E',
    'separator=\t',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=,',
    ...names.flatMap((n) => ['-e', n]),
  ]);
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t').map((v) => (v === '' ? [] : v.split(','))));
}

/** The expert-info lines of a file, by severity section (Errors, Warns, Notes, Chats, Comments). */
export function tsharkExpert(file: string, extra: readonly string[] = []): Record<string, string[]> {
  const out = tshark(file, ['-q', '-z', 'expert', ...extra]);
  const sections: Record<string, string[]> = {};
  let cur = '';
  for (const line of out.split('\n')) {
    const h = /^(Errors|Warns|Notes|Chats|Comments) \(\d+\)/.exec(line);
    if (h) {
      cur = h[1]!;
      sections[cur] = [];
    } else if (cur && /^\s+\d+\s/.test(line)) sections[cur]!.push(line.trim());
  }
  return sections;
}
