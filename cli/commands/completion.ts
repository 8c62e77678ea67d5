/**
 * `kpath completion bash|zsh`: a shell completion script. The script asks kpath itself for the
 * candidates (`kpath --get-yargs-completions WORDS...`, answered in cli/main.ts by yargs with the
 * commands, their options and, for `get`, the resource types), so it never goes stale.
 */
import type { Argv } from 'yargs';
import { type CliIO, EXIT } from '../io.js';

export const command = 'completion <shell>';
export const describe = 'print a bash or zsh completion script (source <(kpath completion bash))';

export function builder(y: Argv) {
  return y
    .positional('shell', { type: 'string', choices: ['bash', 'zsh'], description: 'the shell' })
    .example(
      'source <(kpath completion bash)',
      'completion in this bash session (add it to ~/.bashrc to keep it)',
    )
    .example('source <(kpath completion zsh)', 'the same for zsh (after compinit)');
}

const BASH = `# kpath completion for bash. Load it with: source <(kpath completion bash)
_kpath_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  local words
  words=$(kpath --get-yargs-completions "\${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null)
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _kpath_complete kpath
`;

const ZSH = `#compdef kpath
# kpath completion for zsh. Load it with: source <(kpath completion zsh)  (after compinit)
_kpath_complete() {
  local -a reply
  reply=("\${(@f)$(SHELL=zsh kpath --get-yargs-completions "\${(@)words[1,CURRENT]}" 2>/dev/null)}")
  if (( \${#reply[@]} )) && [[ -n "\${reply[1]}" ]]; then
    _describe 'kpath' reply
  else
    _files
  fi
}
compdef _kpath_complete kpath
`;

export async function run(args: { shell: 'bash' | 'zsh' }, io: CliIO): Promise<number> {
  io.out(args.shell === 'zsh' ? ZSH : BASH);
  return EXIT.OK;
}
