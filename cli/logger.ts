/** The process's root logger: JSON lines, or pretty when stderr is a terminal. Components get children. */
import { type Logger, pino } from 'pino';

export function rootLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.KPATH_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ level }, pino.destination(2));
}
