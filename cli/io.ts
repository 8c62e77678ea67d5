/** Where a command writes. Tests pass buffers; bin.ts passes the process streams. */
export interface CliIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
}

export function bufferIO(cwd = process.cwd()): CliIO & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  return {
    out: (t) => {
      o += t;
    },
    err: (t) => {
      e += t;
    },
    cwd,
    stdout: () => o,
    stderr: () => e,
  };
}

/** Exit statuses. */
export const EXIT = { OK: 0, FAILURE: 1, INVALID: 2 } as const;
