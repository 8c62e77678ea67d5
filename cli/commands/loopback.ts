/**
 * Listen and upstream addresses given on the command line. kpath only ever opens sockets on loopback
 * (127.0.0.0/8 and ::1): a server bound to 0.0.0.0 would expose the emulated cluster (and any
 * command --exec runs) to the network. Anything else is a usage error (exit 2) that says why.
 */
import { isLoopback, tryParseHostPort } from '../../netmodel/addr.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';

/** `HOST:PORT` (or `[v6]:PORT`, `localhost:PORT`) on loopback; `defaultPort` makes the port optional. */
export function loopbackHostPort(
  flag: string,
  value: string,
  defaultPort?: number,
): { host: string; port: number } {
  const text = value.replace(/^localhost(?=:|$)/i, '127.0.0.1');
  const hp = tryParseHostPort(text, defaultPort);
  if (!hp) {
    throw new KpathError(
      ErrorCodes.USAGE,
      `--${flag} ${value}: expected ADDRESS:PORT with a numeric loopback address, e.g. 127.0.0.1:${defaultPort ?? 10249} or [::1]:${defaultPort ?? 10249}`,
    );
  }
  if (!isLoopback(hp.ip)) {
    throw new KpathError(
      ErrorCodes.USAGE,
      `--${flag} ${value}: ${hp.ip.text} is not a loopback address; kpath only uses 127.0.0.0/8 and ::1 ` +
        `so that nothing it serves or runs is reachable from the network (use e.g. 127.0.0.1:${hp.port})`,
    );
  }
  return { host: hp.ip.text, port: hp.port };
}
