/**
 * `kpath up`: run the cluster on loopback in the foreground until SIGINT/SIGTERM, then stop
 * accepting, drain open connections (up to --drain-timeout), stop the pods and exit 0.
 */
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { ErrorCodes, isKpathError } from '../../netmodel/errors.js';
import type { ApiService } from '../../proxy/api/index.js';
import { checkRelayEnv } from '../../proxy/native/load.js';
import { createLogger, MODE_NAMES, RUNTIME_DEFAULTS, startRuntime } from '../../proxy/runtime/index.js';
import { dockerReadyLines } from '../format/docker-ready.js';
import { readyLines } from '../format/ready.js';
import { type CliIO, EXIT } from '../io.js';
import { withFiles, withNamespace } from './common.js';
import { loopbackHostPort } from './loopback.js';

export const command = 'up';
export const describe =
  'run the cluster for real on loopback: service listeners, pods, health and metrics, and any Docker hosts (containers, published ports, embedded DNS) (Ctrl-C stops)';

export function builder(y: Argv) {
  return withNamespace(withFiles(y))
    .option('exec', {
      type: 'boolean',
      default: false,
      description:
        "run containers' command (and exec probes) as host processes, as your user; without it they get " +
        'the built-in echo server (one pod: annotation kpath.dev/exec: "true")',
    })
    .option('mode', {
      type: 'string',
      choices: [...MODE_NAMES],
      description: 'proxy mode (default: the KubeProxyConfiguration mode, else iptables)',
    })
    .option('health-address', {
      type: 'string',
      default: '127.0.0.1:10256',
      description: 'health server HOST:PORT on loopback (127.0.0.0/8 or ::1; port 0: any)',
    })
    .option('metrics-address', {
      type: 'string',
      default: '127.0.0.1:10249',
      description:
        'metrics, admin API and the web page (/ui/) HOST:PORT on loopback (127.0.0.0/8 or ::1; port 0: any)',
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
    .option('api-address', {
      type: 'string',
      default: '127.0.0.1:6443',
      description: "the Kubernetes API for kubectl, HTTPS on HOST:PORT (loopback only; '' to disable)",
    })
    .option('kubeconfig', {
      type: 'string',
      description: 'write the kubeconfig for the API here (default ~/.kpath/kubeconfig)',
    })
    .option('state', {
      type: 'string',
      description: 'keep what kubectl changes (and the API credentials) here (default ~/.kpath/state)',
    })
    .option('fresh', {
      type: 'boolean',
      default: false,
      description: 'forget what kubectl changed before: start from the manifest files alone',
    })
    .option('dns-twins', {
      type: 'boolean',
      default: false,
      description:
        'the built-in kube-dns answers with loopback twins (127.a.b.c) so curl to a resolved name works',
    })
    .option('conntrack-acct', {
      type: 'boolean',
      default: false,
      description:
        'net.netfilter.nf_conntrack_acct=1 for the live table: kpath conntrack shows packets= and bytes= per direction (Linux default 0: no counters)',
    })
    .option('policy-reject', {
      type: 'boolean',
      default: false,
      description:
        'reset TCP connections NetworkPolicy denies (default: accept, never forward, close after 60 s, as close to a dropped SYN as a userspace proxy gets)',
    })
    .epilog(
      'Environment: KPATH_NATIVE=0 uses Node sockets and streams instead of the native addon; ' +
        'KPATH_RELAY=uring|epoll picks the native relay engine (default uring: io_uring where the kernel allows it, else epoll); ' +
        'KPATH_RELAY_MULTISHOT=0 arms one io_uring receive per message instead of one multishot receive per direction; ' +
        'KPATH_DIAL=syscalls dials endpoints with five syscalls instead of one io_uring submission (default uring where the kernel has IORING_OP_BIND, Linux 6.11).',
    );
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
  conntrackAcct?: boolean;
  exec?: boolean;
  namespace?: string;
  apiAddress?: string;
  kubeconfig?: string;
  state?: string;
  fresh?: boolean;
}

/** `until` lets tests stop the command without a signal. */
export async function run(args: UpArgs, io: CliIO, until?: Promise<unknown>): Promise<number> {
  checkRelayEnv();
  const health = loopbackHostPort('health-address', args.healthAddress);
  const metrics = loopbackHostPort('metrics-address', args.metricsAddress);
  const logger = createLogger({ level: args.logLevel });
  let api: ApiService | undefined;
  // The API server's code (proxy/api) is loaded only when it is on (--api-address '' turns it off).
  const apiModule = args.apiAddress ? await import('../../proxy/api/index.js') : undefined;
  if (args.apiAddress && apiModule) {
    const { ApiService, defaultKubeconfigPath, defaultStateDir } = apiModule;
    try {
      const a = loopbackHostPort('api-address', args.apiAddress);
      api = await ApiService.prepare({
        host: a.host,
        port: a.port,
        stateDir: resolve(io.cwd, args.state ?? defaultStateDir()),
        kubeconfig: resolve(io.cwd, args.kubeconfig ?? defaultKubeconfigPath()),
        fresh: args.fresh ?? false,
        log: logger,
      });
    } catch (e) {
      if (isKpathError(e)) {
        io.err(`error: ${e.message} [${e.code}]\n`);
        return e.code === ErrorCodes.USAGE ? EXIT.INVALID : EXIT.FAILURE;
      }
      throw e;
    }
  }
  const rt = startRuntime({
    exec: args.exec ?? false,
    ...(args.namespace !== undefined ? { namespace: args.namespace } : {}),
    files: args.f ?? [],
    cwd: io.cwd,
    ...(args.mode ? { mode: args.mode } : {}),
    ...(args.node ? { node: args.node } : {}),
    health: health,
    metrics: metrics,
    logger,
    drainTimeoutMs: args.drainTimeout * 1000,
    limits: { idleTimeoutMs: args.idleTimeout * 1000, maxConnections: args.maxConnections },
    watch: args.watch,
    processMetrics: true,
    dnsTwins: args.dnsTwins ?? false,
    policyReject: args.policyReject ?? false,
    conntrackAcct: args.conntrackAcct ?? false,
    ...(api ? { build: api.build } : {}),
  });
  api?.attach(rt);
  try {
    await rt.ready;
    await api?.start();
  } catch (e) {
    await api?.stop();
    await rt.stop();
    if (isKpathError(e)) {
      io.err(`error: ${e.message} [${e.code}]\n`);
      return e.code === ErrorCodes.INVALID ? EXIT.INVALID : EXIT.FAILURE;
    }
    throw e;
  }
  // Ctrl-C is handled from here on: before the ready line, which a script may answer with SIGINT.
  let onSignal: (() => void) | undefined;
  const signalled = new Promise<void>((resolve) => {
    onSignal = resolve;
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const a = rt.addresses();
  const snap = rt.snapshot();
  const dk = rt.docker();
  const lines = [
    ...(snap ? readyLines(snap, rt.listeners()) : []),
    ...dockerReadyLines(dk.containers, rt.listeners(), dk.dns),
  ];
  io.err(
    `kpath up: ready, ${rt.pods().length} pods, mode ${rt.mode?.name}. ` +
      `${lines.length ? 'From this host:' : 'No service has a listener.'}\n` +
      lines.map((l) => `${l}\n`).join('') +
      `health http://${a.health ?? '-'}/healthz, metrics and admin API http://${a.metrics ?? '-'}/metrics. Ctrl-C to stop.\n`,
  );
  if (api && apiModule) {
    const kc = resolve(io.cwd, args.kubeconfig ?? apiModule.defaultKubeconfigPath());
    io.err(
      `kpath up: Kubernetes API ${api.url}; kubectl: export KUBECONFIG=${kc} (or kpath kubeconfig --merge)\n`,
    );
  }
  await Promise.race([signalled, ...(until ? [until] : [])]);
  process.off('SIGINT', onSignal!);
  process.off('SIGTERM', onSignal!);
  io.err('kpath up: stopping (draining connections)\n');
  await api?.stop();
  await rt.stop();
  return EXIT.OK;
}
