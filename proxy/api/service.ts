/**
 * The API as `kpath up` runs it:
 *   prepare: state directory -> credentials (CA, serving cert, token) -> ApiStore (state restored,
 *     or emptied with --fresh); its composeFor becomes the runtime's build
 *   attach(runtime) -> listen on the loopback address -> kubeconfig written -> stop()
 */
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import type { Runtime } from '../runtime/index.js';
import { type ApiCredentials, loadOrCreateCredentials } from './certs.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ApiServer, isLoopbackHost } from './server.js';
import { ApiStore } from './store.js';

export interface ApiServiceOptions {
  readonly host: string;
  readonly port: number;
  readonly stateDir: string;
  /** Where to write the kubeconfig; null: do not write one. */
  readonly kubeconfig: string | null;
  readonly fresh?: boolean;
  readonly log: Logger;
  readonly maxBodyBytes?: number;
  readonly bookmarkMs?: number;
}

export class ApiService {
  readonly store: ApiStore;
  private server: ApiServer | undefined;
  private ready = false;

  private constructor(
    private readonly opts: ApiServiceOptions,
    readonly credentials: ApiCredentials,
  ) {
    this.store = new ApiStore(opts.stateDir, opts.log.child({ component: 'api-store' }), {
      fresh: opts.fresh ?? false,
    });
  }

  static async prepare(opts: ApiServiceOptions): Promise<ApiService> {
    if (!isLoopbackHost(opts.host)) {
      throw new KpathError(
        ErrorCodes.USAGE,
        `--api-address ${opts.host}:${opts.port}: the API serves on loopback only (127.0.0.0/8, ::1 or localhost)`,
      );
    }
    try {
      mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new KpathError(
        ErrorCodes.USAGE,
        `--state ${opts.stateDir}: cannot create the state directory (${(e as NodeJS.ErrnoException).code ?? e})`,
        { cause: e },
      );
    }
    const creds = await loadOrCreateCredentials(opts.stateDir, opts.host);
    return new ApiService(opts, creds);
  }

  /** Build hook for startRuntime({ build }). */
  get build() {
    return this.store.composeFor;
  }

  attach(rt: Runtime): void {
    this.store.attach({
      adopt: (s) => rt.adopt(s),
      nextVersion: () => rt.nextVersion(),
      subscribe: (fn) => rt.subscribe(fn),
      current: () => rt.snapshot(),
      containers: () => new Map(rt.pods().map((p) => [p.pod, p.containers])),
    });
  }

  /** Listen, then write the kubeconfig for the address actually bound. */
  async start(): Promise<void> {
    this.server = new ApiServer({
      host: this.opts.host,
      port: this.opts.port,
      key: this.credentials.keyPem,
      cert: this.credentials.certPem,
      token: this.credentials.token,
      store: this.store,
      log: this.opts.log.child({ component: 'api' }),
      ready: () => this.ready,
      ...(this.opts.maxBodyBytes ? { maxBodyBytes: this.opts.maxBodyBytes } : {}),
      ...(this.opts.bookmarkMs ? { bookmarkMs: this.opts.bookmarkMs } : {}),
    });
    await this.server.start();
    this.ready = true;
    if (this.opts.kubeconfig)
      writeKubeconfig(this.opts.kubeconfig, this.url, this.credentials.caPem, this.credentials.token);
  }

  get url(): string {
    return this.server?.url ?? '';
  }

  async stop(): Promise<void> {
    this.ready = false;
    await this.server?.stop();
    this.store.detach();
    this.store.flush();
  }
}
