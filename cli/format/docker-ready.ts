/** What `kpath up` prints for Docker hosts once ready: each container's twin, each published port. */

import type { DockerContainerStatus } from '../../proxy/runtime/docker/index.js';
import type { ListenerInfo } from '../../proxy/runtime/index.js';

export function dockerReadyLines(
  containers: readonly DockerContainerStatus[],
  listeners: readonly ListenerInfo[],
  dns: string | undefined,
): string[] {
  const out: string[] = [];
  for (const c of containers)
    out.push(
      `  container ${c.host}/${c.name}   ${c.ip} on ${c.loopbackIP} (${c.ports.join(', ') || 'no ports'})`,
    );
  for (const l of listeners) {
    if (!l.servicePort.startsWith('docker/') || !l.address.startsWith('127.0.0.1:')) continue;
    const [host, rest] = l.servicePort.slice('docker/'.length).split(':') as [string, string];
    out.push(
      l.protocol === 'TCP'
        ? `  published ${host} ${rest}   curl http://${l.address}/`
        : `  published ${host} ${rest}   echo whoami | nc -u -w1 ${l.address.replace(':', ' ')}`,
    );
  }
  if (dns) out.push(`  embedded DNS ${dns} (names on the asker's user-defined network; answers are twins)`);
  return out;
}
