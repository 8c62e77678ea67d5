/** `kpath endpoints`: what a running `kpath up` routes each service port to, in its rotation order. */
import type { Argv } from 'yargs';
import { fetchAdmin } from '../../proxy/runtime/admin-client.js';
import { type CliIO, EXIT } from '../io.js';
import { withAdmin } from './conntrack.js';

export const command = 'endpoints [service]';
export const describe =
  'list the endpoints a running kpath up routes each service port to (ready, not ready, rotation)';

export function builder(y: Argv) {
  return withAdmin(y)
    .positional('service', { type: 'string', description: 'only this service (NAME or NAMESPACE/NAME)' })
    .option('output', { alias: 'o', type: 'string', choices: ['json'], description: 'output format' });
}

interface ServicePortView {
  servicePort: string;
  protocol: string;
  sessionAffinity: string;
  endpoints: {
    address: string;
    pod: string | null;
    node: string | null;
    ready: boolean;
    serving: boolean;
    terminating: boolean;
  }[];
  rotation: string[];
  next: number | null;
}

export async function run(
  args: { admin: string; service?: string; output?: string },
  io: CliIO,
): Promise<number> {
  const r = await fetchAdmin<{ mode: string; servicePorts: ServicePortView[] }>(
    args.admin,
    '/api/v1/endpoints',
  );
  const want = args.service
    ? args.service.includes('/')
      ? args.service
      : `default/${args.service}`
    : undefined;
  const list = r.servicePorts.filter((s) => !want || s.servicePort.startsWith(`${want}:`));
  if (args.output === 'json') {
    io.out(`${JSON.stringify({ mode: r.mode, servicePorts: list }, null, 2)}\n`);
    return EXIT.OK;
  }
  if (list.length === 0) {
    io.err(want ? `service ${want} not found\n` : 'No services.\n');
    return want ? EXIT.FAILURE : EXIT.OK;
  }
  const rows = [['SERVICE', 'PROTOCOL', 'AFFINITY', 'READY', 'NOT-READY', 'ROTATION']];
  for (const s of list) {
    const ready = s.endpoints.filter((e) => e.ready).map((e) => e.address);
    const notReady = s.endpoints
      .filter((e) => !e.ready)
      .map((e) => `${e.address}${e.terminating ? '(terminating)' : ''}`);
    const rot = s.rotation.map((e, i) => (i === s.next ? `>${e}` : e));
    rows.push([
      s.servicePort,
      s.protocol,
      s.sessionAffinity,
      ready.join(',') || '<none>',
      notReady.join(',') || '-',
      rot.join(',') || '-',
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  io.out(
    rows
      .map(
        (x) =>
          x
            .map((c, i) => (i === x.length - 1 ? c : c.padEnd(w[i]! + 3)))
            .join('')
            .trimEnd() + '\n',
      )
      .join(''),
  );
  return EXIT.OK;
}
