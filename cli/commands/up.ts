/**
 * `kpath up`: run the cluster on loopback in the foreground until SIGINT/SIGTERM, then stop
 * accepting, drain open connections (up to --drain-timeout), stop the pods and exit 0.
 */
import type { Argv } from 'yargs';
import { ErrorCodes, isKpathError, KpathError } from '../../netmodel/errors.js';
import { createLogger, MODE_NAMES, RUNTIME_DEFAULTS, startRuntime } from '../../proxy/runtime/index.js';
import { type CliIO, EXIT } from '../io.js';
import { withFiles } from './common.js';

export const command = 'up';
export const describe =
  'run the cluster for real on loopback: service listeners, pods, health and metrics (Ctrl-C stops)';

export function builder(y: Argv) {
  return withFiles(y)
    .option('mode', {
      type: 'string',
      choices: [...MODE_NAMES],
      description: 'proxy mode (default: the KubeProxyConfiguration mode, else iptables)',
    })
    .option('health-address', {
      type: 'string',
      default: '127.0.0.1:10256',
      description: 'health server HOST:PORT (port 0: any)',
    })
    .option('metrics-address', {
      type: 'string',
      default: '127.0.0.1:10249',
      description: 'metrics, admin API and the web page (/ui/) HOST:PORT (port 0: any)',
    })
    .option('node', {
      type: 'string',
      description: 'the node that processes on this host (127.0.0.1) belong to',
    })
    .option('log-level', {
      type: 'string',
      default: 'info',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
    })
    .option('drain-timeout', {
      type: 'number',
      default: RUNTIME_DEFAULTS.drainTimeoutMs / 1000,
      description: 'seconds to drain connections on stop',
    })
    .option('idle-timeout', {
      type: 'number',
      default: 0,
      description: 'seconds before an idle TCP connection is closed (0: never)',
    })
    .option('max-connections', {
      type: 'number',
      default: 0,
      description: 'open TCP connections at most (0: unlimited)',
    })
    .option('watch', {
      type: 'boolean',
      default: true,
      description: 'reload when the manifests change (--no-watch to disable)',
    })
    .option('dns-twins', {
      type: 'boolean',
      default: false,
      description:
        'the built-in kube-dns answers with loopback twins (127.a.b.c) so curl to a resolved name works',
    })
    .option('policy-reject', {
      type: 'boolean',
      default: false,
      description:
        'reset TCP connections NetworkPolicy denies (default: accept, never forward, close after 60 s, as close to a dropped SYN as a userspace proxy gets)',
    });
}

interface UpArgs {
  f?: string[];
  mode?: string;
  healthAddress: string;
  metricsAddress: string;
  node?: string;
  logLevel: string;
  drainTimeout: number;
  idleTimeout: number;
  maxConnections: number;
  watch: boolean;
  dnsTwins?: boolean;
  policyReject?: boolean;
}

function hostPort(flag: string, v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  const port = Number(v.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new KpathError(ErrorCodes.USAGE, `--${flag} ${v}: expected HOST:PORT, e.g. 127.0.0.1:10249`);
  }
  return { host: v.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/** `until` lets tests stop the command without a signal. */
export async function run(args: UpArgs, io: CliIO, until?: Promise<unknown>): Promise<number> {
  const logger = createLogger({ level: args.logLevel });
  const rt = startRuntime({
    files: args.f ?? [],
    cwd: io.cwd,
    ...(args.mode ? { mode: args.mode } : {}),
    ...(args.node ? { node: args.node } : {}),
    health: hostPort('health-address', args.healthAddress),
    metrics: hostPort('metrics-address', args.metricsAddress),
    logger,
    drainTimeoutMs: args.drainTimeout * 1000,
    limits: { idleTimeoutMs: args.idleTimeout * 1000, maxConnections: args.maxConnections },
    watch: args.watch,
    processMetrics: true,
    dnsTwins: args.dnsTwins ?? false,
    policyReject: args.policyReject ?? false,
  });
  try {
    await rt.ready;
  } catch (e) {
    await rt.stop();
    if (isKpathError(e)) {
      io.err(`error: ${e.message} [${e.code}]\n`);
      return e.code === ErrorCodes.INVALID ? EXIT.INVALID : EXIT.FAILURE;
    }
    throw e;
  }
  const a = rt.addresses();
  io.err(
    `kpath up: ${rt.listeners().length} listeners, ${rt.pods().length} pods, mode ${rt.mode?.name}; ` +
      `health http://${a.health ?? '-'}/healthz, metrics http://${a.metrics ?? '-'}/metrics. Ctrl-C to stop.\n`,
  );
  let onSignal: (() => void) | undefined;
  const signalled = new Promise<void>((resolve) => {
    onSignal = resolve;
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.race([signalled, ...(until ? [until] : [])]);
  process.off('SIGINT', onSignal!);
  process.off('SIGTERM', onSignal!);
  io.err('kpath up: stopping (draining connections)\n');
  await rt.stop();
  return EXIT.OK;
}
