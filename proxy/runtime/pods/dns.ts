/**
 * The built-in kube-dns container: a container whose image is CoreDNS-like (`coredns`, `kube-dns` or
 * `kpath/dns`) serves the cluster's DNS on its DNS ports (containerPort 53 or a port named dns...),
 * over UDP and TCP, from its pod's loopback twin. Every DNS pod shares one answerer, rebuilt when the
 * cluster changes, so `dig @<kube-dns twin>` goes through the service listeners like any other traffic.
 */
import type { Logger } from 'pino';
import type { ContainerPort } from '../../../netmodel/cluster/index.js';
import type { Answerer } from '../../../netmodel/dns/index.js';
import { type DnsServer, startDnsServer } from '../../dns/index.js';

/** Where DNS containers get their answers from. */
export interface DnsSource {
  answerer(): Answerer;
  /** Called after every cluster change; returns the unsubscribe function. */
  subscribe(onChange: () => void): () => void;
}

const DNS_IMAGE = /(^|\/)(coredns|kube-dns|k8s-dns-kube-dns|kpath\/dns)(:|@|$)/;

export function isDnsImage(image: string): boolean {
  return DNS_IMAGE.test(image);
}

/** The container ports that carry DNS (the rest are served by the echo server). */
export function dnsPorts(ports: readonly ContainerPort[]): number[] {
  const out = new Set<number>();
  for (const p of ports) {
    if (p.protocol === 'SCTP') continue;
    if (p.containerPort === 53 || (p.name !== undefined && /^dns/.test(p.name))) out.add(p.containerPort);
  }
  return [...out].sort((a, b) => a - b);
}

export class DnsContainer {
  private servers: DnsServer[] = [];
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly loopbackIP: string,
    private readonly ports: readonly number[],
    private readonly source: DnsSource,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    try {
      for (const port of this.ports) {
        this.servers.push(
          await startDnsServer({
            listen: [{ host: this.loopbackIP, port }],
            answerer: this.source.answerer(),
            logger: this.log,
          }),
        );
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.unsubscribe = this.source.subscribe(() => {
      const a = this.source.answerer();
      for (const s of this.servers) s.reload(a);
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const servers = this.servers;
    this.servers = [];
    await Promise.all(servers.map((s) => s.close()));
  }
}
