/**
 * Splits one iptables-restore line into arguments as iptables-restore does: whitespace separates,
 * double quotes group (a closing quote ends the argument, so `""` is an empty argument), and inside
 * quotes a backslash takes the next character literally. Single quotes are ordinary characters.
 */
export function tokenizeLine(line: string): string[] | { error: string } {
  const out: string[] = [];
  let cur = '';
  let have = false;
  let quoted = false;
  let escaped = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (escaped) {
        cur += ch;
        escaped = false;
      } else if (ch === '\\') {
        escaped = true;
      } else if (ch === '"') {
        quoted = false;
        out.push(cur);
        cur = '';
        have = false;
      } else {
        cur += ch;
      }
      continue;
    }
    if (ch === '"') {
      quoted = true;
      have = true;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (have) {
        out.push(cur);
        cur = '';
        have = false;
      }
      continue;
    }
    cur += ch;
    have = true;
  }
  if (quoted) return { error: 'unterminated double quote' };
  if (have) out.push(cur);
  return out;
}

const NO_QUOTE = /^[A-Za-z0-9_-]+$/;

/** A string as iptables-save prints it (xtables_save_string): bare if [A-Za-z0-9_-]+, else quoted. */
export function saveString(s: string): string {
  if (NO_QUOTE.test(s)) return s;
  return `"${s.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}

/** A string as kube-proxy writes it: bare unless it has whitespace, quotes or is empty. */
export function restoreString(s: string): string {
  if (s !== '' && !/[\s"\\]/.test(s)) return s;
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
