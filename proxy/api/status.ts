/**
 * metav1.Status errors as the apiserver writes them (k8s.io/apimachinery/pkg/api/errors): the HTTP
 * code, a reason, a message worded like the apiserver's, and details naming the object.
 */
export type Obj = Record<string, unknown>;

export interface StatusCause {
  readonly reason?: string;
  readonly message: string;
  readonly field?: string;
}

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details?: Obj;
  constructor(code: number, reason: string, message: string, details?: Obj) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    if (details) this.details = details;
  }

  status(): Obj {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export interface Target {
  readonly group: string;
  /** The resource's plural name (`deployments`). */
  readonly resource: string;
  /** The kind for Invalid errors (`Deployment`). */
  readonly kind?: string;
  readonly name: string;
}

function qualified(t: Target): string {
  return t.group ? `${t.resource}.${t.group}` : t.resource;
}

function details(t: Target, kindAs: 'resource' | 'kind' = 'resource'): Obj {
  return {
    ...(t.name ? { name: t.name } : {}),
    ...(t.group ? { group: t.group } : {}),
    kind: kindAs === 'kind' ? (t.kind ?? t.resource) : t.resource,
  };
}

export const errors = {
  notFound: (t: Target) => new ApiError(404, 'NotFound', `${qualified(t)} "${t.name}" not found`, details(t)),
  alreadyExists: (t: Target) =>
    new ApiError(409, 'AlreadyExists', `${qualified(t)} "${t.name}" already exists`, details(t)),
  conflict: (t: Target, why: string) =>
    new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(t)} "${t.name}": ${why}`,
      details(t),
    ),
  invalid: (t: Target, causes: readonly StatusCause[]) => {
    const kind = t.kind ?? t.resource;
    const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const msg =
      list.length === 1
        ? `${kind} "${t.name}" is invalid: ${list[0]}`
        : `${kind} "${t.name}" is invalid: [${list.join(', ')}]`;
    return new ApiError(422, 'Invalid', msg, {
      ...details(t, 'kind'),
      causes: causes.map((c) => ({
        reason: c.reason ?? 'FieldValueInvalid',
        message: c.message,
        ...(c.field ? { field: c.field } : {}),
      })),
    });
  },
  badRequest: (message: string) => new ApiError(400, 'BadRequest', message),
  unprocessable: (message: string) => new ApiError(422, 'Invalid', message),
  unauthorized: () => new ApiError(401, 'Unauthorized', 'Unauthorized'),
  forbidden: (t: Target, verb: string, why: string) =>
    new ApiError(
      403,
      'Forbidden',
      `${qualified(t)} "${t.name}" is forbidden: ${verb ? `${verb}: ` : ''}${why}`,
      details(t),
    ),
  methodNotAllowed: (verb: string, what: string) =>
    new ApiError(
      405,
      'MethodNotAllowed',
      `the server does not allow this method on the requested resource (${verb} ${what})`,
    ),
  notAcceptable: (accept: string) =>
    new ApiError(
      406,
      'NotAcceptable',
      `the server was unable to respond with a content type that the client supports (${accept})`,
    ),
  unsupportedMediaType: (type: string, accepted: readonly string[]) =>
    new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')} (got ${type || 'no Content-Type'})`,
    ),
  tooLarge: (limit: number) =>
    new ApiError(413, 'RequestEntityTooLarge', `the request is too large (limit: ${limit} bytes)`),
  gone: (why: string) => new ApiError(410, 'Expired', why),
  notFoundPath: () => new ApiError(404, 'NotFound', 'the server could not find the requested resource'),
  internal: (why: string) => new ApiError(500, 'InternalError', `Internal error occurred: ${why}`),
};

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
