/** The root logger of `kpath up`: JSON lines, or pino-pretty when writing to a terminal. */
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export function createLogger(
  opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const dest = opts.destination ?? process.stderr;
  const level = opts.level ?? 'info';
  const usePretty = opts.pretty ?? Boolean((dest as { isTTY?: boolean }).isTTY);
  if (usePretty) {
    // Loaded only for a terminal: it is 30 modules a JSON-logging proxy does not need in memory.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(
      { level },
      pretty({ colorize: true, destination: dest, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  // `name` (pino's own key) rather than `component`, which the children set: a JSON line never
  // carries the same key twice.
  return pino({ level, base: { name: 'kpath' } }, dest);
}
