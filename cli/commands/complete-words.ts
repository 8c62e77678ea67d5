/**
 * Completion candidates for the word being typed: resource types after `get`, lab names after
 * `lab start`, otherwise yargs' default (commands, options, choices).
 */
import { labNames } from '../../lab/index.js';
import { resourceNames } from './get-resources.js';

export function completeWords(
  current: string,
  argv: { _: (string | number)[] },
  defaultCompletion: (
    onCompleted?: (err: Error | null, completions: string[] | undefined) => void,
  ) => unknown,
  done: (completions: string[]) => void,
): void {
  const words = argv._.map(String);
  // words: ['kpath'?, 'get', ...typed]; complete TYPE right after `get`.
  const i = words.indexOf('get');
  if (i >= 0 && words.length - i <= 2 && !current.startsWith('-')) {
    const typed = current.split(',');
    const last = typed.pop() ?? '';
    const prefix = typed.length ? `${typed.join(',')},` : '';
    done(
      resourceNames()
        .filter((r) => r.startsWith(last))
        .map((r) => prefix + r),
    );
    return;
  }
  const l = words.indexOf('lab');
  if (l >= 0 && words[l + 1] === 'start' && words.length - l <= 3 && !current.startsWith('-')) {
    done(labNames().filter((n) => n.startsWith(current)));
    return;
  }
  defaultCompletion((_err, completions) => done(completions ?? []));
}
