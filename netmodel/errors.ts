/**
 * The catalogue of user and operational errors. Every error kpath reports to a person carries one of
 * these stable codes; callers match on `code`, never on the message or on `instanceof`.
 *
 * Packet outcomes (drop, reject, unreachable) are values, not errors. Broken invariants are
 * assertions (`assert` below) and mean a bug in kpath.
 */
export const ErrorCodes = {
  /** A manifest could not be read or parsed (file, YAML syntax). */
  MANIFEST: 'KPATH_E_MANIFEST',
  /** A manifest parsed but an object in it is invalid (one or more field errors). */
  INVALID: 'KPATH_E_INVALID',
  /** An address or prefix could not be parsed. */
  ADDRESS: 'KPATH_E_ADDRESS',
  /** A lookup named something that does not exist (node, pod, service). */
  NOT_FOUND: 'KPATH_E_NOT_FOUND',
  /** A command line flag or argument is wrong. */
  USAGE: 'KPATH_E_USAGE',
  /** An allocator ran out (cluster IPs, node ports, pod IPs). */
  EXHAUSTED: 'KPATH_E_EXHAUSTED',
  /** iptables-restore text could not be parsed or loaded. */
  RULES: 'KPATH_E_RULES',
  /** A listener could not bind. */
  LISTEN: 'KPATH_E_LISTEN',
  /** Something kpath does not implement yet was asked for. */
  UNSUPPORTED: 'KPATH_E_UNSUPPORTED',
  /** A frame description could not be encoded, or captured bytes could not be decoded (pcap, pcapng). */
  FRAME: 'KPATH_E_FRAME',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class KpathError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KpathError';
    this.code = code;
  }
}

export function isKpathError(e: unknown): e is KpathError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    String((e as { code: string }).code).startsWith('KPATH_E_')
  );
}

/** An invariant of kpath itself. Failing one is a bug, never bad input. */
export function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`kpath internal error: ${what}`);
}
