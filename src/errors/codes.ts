/**
 * The one table of Gatehouse error codes. Every refusal the gateway writes to
 * a client carries one of these codes (in the Status `details.causes`), so
 * agents and scripts can branch on it; `docs/errors.md` documents each one and
 * a unit test keeps the two in step.
 */
export const errorCodes = {
  GH_UNAUTHENTICATED: { httpStatus: 401, reason: 'Unauthorized' },
  GH_IMPERSONATION_REFUSED: { httpStatus: 403, reason: 'Forbidden' },
  GH_BAD_REQUEST_PATH: { httpStatus: 400, reason: 'BadRequest' },
  GH_BAD_REQUEST_BODY: { httpStatus: 400, reason: 'BadRequest' },
  GH_BODY_TOO_LARGE: { httpStatus: 413, reason: 'RequestEntityTooLarge' },
  GH_METHOD_NOT_ALLOWED: { httpStatus: 405, reason: 'MethodNotAllowed' },
  GH_UPSTREAM_UNAVAILABLE: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_UPSTREAM_TIMEOUT: { httpStatus: 504, reason: 'Timeout' },
  GH_UPSTREAM_CREDENTIAL: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_IDENTITY_UNAVAILABLE: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_INTERNAL: { httpStatus: 500, reason: 'InternalError' },
} as const satisfies Record<string, { httpStatus: number; reason: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** A refusal raised by a stage; the responder turns it into a Kubernetes Status. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.httpStatus = errorCodes[code].httpStatus;
    this.reason = errorCodes[code].reason;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
