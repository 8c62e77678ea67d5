/** `kpath conntrack`: the live connection table of a running `kpath up`, as `conntrack -L` prints it. */
import type { Argv } from 'yargs';
import { DEFAULT_ADMIN, fetchAdmin } from '../../proxy/runtime/admin-client.js';
import { type ConntrackJson, formatConntrackLine } from '../../proxy/runtime/index.js';
import { type CliIO, EXIT } from '../io.js';

/** --admin: where the running kpath up's admin API is (shared by conntrack, affinity and endpoints). */
export function withAdmin<T>(y: Argv<T>) {
  return y.option('admin', {
    type: 'string',
    default: DEFAULT_ADMIN,
    description: "the running kpath up's metrics/admin address (its --metrics-address)",
  });
}

export const command = 'conntrack';
export const describe = 'list the live connections of a running kpath up (conntrack -L format, or -o json)';

export function builder(y: Argv) {
  return withAdmin(y)
    .option('L', {
      alias: 'dump',
      type: 'boolean',
      default: true,
      description: 'list the table (the only action)',
    })
    .option('proto', {
      alias: 'p',
      type: 'string',
      choices: ['tcp', 'udp'],
      description: 'only this protocol',
    })
    .option('orig-dst', {
      alias: 'd',
      type: 'string',
      description: 'only entries whose original destination is this address',
    })
    .option('output', { alias: 'o', type: 'string', choices: ['json'], description: 'output format' });
}

interface Args {
  admin: string;
  proto?: string;
  origDst?: string;
  output?: string;
}

export async function run(args: Args, io: CliIO): Promise<number> {
  const r = await fetchAdmin<{ mode: string; acct?: boolean; entries: ConntrackJson[] }>(
    args.admin,
    '/api/v1/conntrack',
  );
  const entries = r.entries.filter(
    (e) => (!args.proto || e.protocol === args.proto) && (!args.origDst || e.original.dst === args.origDst),
  );
  if (args.output === 'json') {
    io.out(`${JSON.stringify({ mode: r.mode, acct: r.acct ?? false, entries }, null, 2)}\n`);
    return EXIT.OK;
  }
  io.out(entries.map((e) => `${formatConntrackLine(e)}\n`).join(''));
  io.err(`conntrack v1.4.7 (conntrack-tools): ${entries.length} flow entries have been shown.\n`);
  return EXIT.OK;
}
