/** A listener that cannot bind: an error that names the address, the reason and the fix. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';

export function listenError(
  host: string,
  port: number,
  proto: 'TCP' | 'UDP',
  what: string,
  e: NodeJS.ErrnoException,
): KpathError {
  const at = `${host}:${port}/${proto}`;
  let msg: string;
  switch (e.code) {
    case 'EACCES':
      msg =
        `cannot listen on ${at} (${what}): permission denied; ports below 1024 need privileges. ` +
        `Run kpath up as root, or lower the limit: sudo sysctl -w net.ipv4.ip_unprivileged_port_start=${port}`;
      break;
    case 'EADDRINUSE': {
      const holder = findHolder(host, port, proto);
      msg =
        `cannot listen on ${at} (${what}): address already in use${holder ? ` by ${holder}` : ''}. ` +
        `Stop that process (see: ss -${proto === 'TCP' ? 't' : 'u'}lnp 'sport = :${port}'), or change the service's port in the manifest`;
      break;
    }
    case 'EADDRNOTAVAIL':
      msg =
        `cannot listen on ${at} (${what}): the address is not local. Linux treats all of 127.0.0.0/8 as local; ` +
        `on macOS add an alias first: sudo ifconfig lo0 alias ${host}`;
      break;
    default:
      msg = `cannot listen on ${at} (${what}): ${e.code ?? ''} ${e.message}`.trim();
  }
  return new KpathError(ErrorCodes.LISTEN, msg, { cause: e });
}

function hexAddr(host: string, port: number): string {
  const b = host.split('.').map(Number);
  const ip = b
    .reverse()
    .map((x) => x.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
  return `${ip}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Best effort: which process holds host:port (Linux /proc), e.g. `pid 123 (nginx)`. */
export function findHolder(host: string, port: number, proto: 'TCP' | 'UDP'): string | undefined {
  try {
    const table = readFileSync(proto === 'TCP' ? '/proc/net/tcp' : '/proc/net/udp', 'utf8')
      .split('\n')
      .slice(1);
    const wanted = new Set([hexAddr(host, port), hexAddr('0.0.0.0', port)]);
    const inodes = new Set<string>();
    for (const line of table) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const listening = proto === 'TCP' ? f[3] === '0A' : true;
      if (listening && wanted.has(f[1]!)) inodes.add(f[9]!);
    }
    if (inodes.size === 0) return undefined;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m && inodes.has(m[1]!)) {
          let comm = '?';
          try {
            comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          } catch {
            // gone
          }
          return Number(pid) === process.pid
            ? `this kpath process (pid ${pid}; another listener or pod already uses it)`
            : `pid ${pid} (${comm})`;
        }
      }
    }
    return 'a process kpath cannot see (another user or network namespace)';
  } catch {
    return undefined;
  }
}
