/** The root logger of `kpath up`: JSON lines, or pino-pretty when writing to a terminal. */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(
  opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const dest = opts.destination ?? process.stderr;
  const level = opts.level ?? 'info';
  const usePretty = opts.pretty ?? Boolean((dest as { isTTY?: boolean }).isTTY);
  if (usePretty)
    return pino(
      { level },
      pretty({ colorize: true, destination: dest, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  return pino({ level, base: { component: 'kpath' } }, dest);
}
