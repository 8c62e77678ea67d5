/** `kpath affinity`: the ClientIP session-affinity records of a running `kpath up`, with time left. */
import type { Argv } from 'yargs';
import { fetchAdmin } from '../../proxy/runtime/admin-client.js';
import type { AffinityEntry } from '../../proxy/runtime/index.js';
import { type CliIO, EXIT } from '../io.js';
import { withAdmin } from './conntrack.js';

export const command = 'affinity';
export const describe = 'list the live ClientIP session-affinity records of a running kpath up';

export function builder(y: Argv) {
  return withAdmin(y).option('output', {
    alias: 'o',
    type: 'string',
    choices: ['json'],
    description: 'output format',
  });
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 3)))
          .join('')
          .trimEnd() + '\n',
    )
    .join('');
}

export async function run(args: { admin: string; output?: string }, io: CliIO): Promise<number> {
  const r = await fetchAdmin<{ mode: string; entries: AffinityEntry[] }>(args.admin, '/api/v1/affinity');
  if (args.output === 'json') {
    io.out(`${JSON.stringify(r, null, 2)}\n`);
    return EXIT.OK;
  }
  if (r.entries.length === 0) {
    io.err(`No ClientIP affinity records (mode ${r.mode}).\n`);
    return EXIT.OK;
  }
  io.out(
    table([
      ['SERVICE', 'CLIENT', 'ENDPOINT', 'EXPIRES-IN', 'TIMEOUT'],
      ...r.entries.map((e) => [
        e.servicePort,
        e.clientIP,
        e.endpoint,
        `${Math.ceil(e.remainingMs / 1000)}s`,
        `${e.timeoutSeconds}s`,
      ]),
    ]),
  );
  return EXIT.OK;
}
