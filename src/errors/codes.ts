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
  GH_UNKNOWN_CLUSTER: { httpStatus: 404, reason: 'NotFound' },
  GH_BAD_REQUEST_BODY: { httpStatus: 400, reason: 'BadRequest' },
  GH_BODY_TOO_LARGE: { httpStatus: 413, reason: 'RequestEntityTooLarge' },
  GH_METHOD_NOT_ALLOWED: { httpStatus: 405, reason: 'MethodNotAllowed' },
  GH_UPSTREAM_UNAVAILABLE: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_UPSTREAM_TIMEOUT: { httpStatus: 504, reason: 'Timeout' },
  GH_UPSTREAM_CREDENTIAL: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_IDENTITY_UNAVAILABLE: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_POLICY_DENIED: { httpStatus: 403, reason: 'Forbidden' },
  GH_POLICY_BODY_UNREADABLE: { httpStatus: 415, reason: 'UnsupportedMediaType' },
  GH_POLICY_UNAVAILABLE: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_APPROVAL_UNAVAILABLE: { httpStatus: 403, reason: 'Forbidden' },
  GH_APPROVAL_PENDING: { httpStatus: 403, reason: 'Forbidden' },
  GH_APPROVAL_DENIED: { httpStatus: 403, reason: 'Forbidden' },
  GH_APPROVAL_EXPIRED: { httpStatus: 403, reason: 'Forbidden' },
  GH_APPROVAL_REASON_REQUIRED: { httpStatus: 403, reason: 'Forbidden' },
  GH_APPROVAL_FAILED: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_MASKING_UNAVAILABLE: { httpStatus: 403, reason: 'Forbidden' },
  GH_PROPOSED: { httpStatus: 403, reason: 'Forbidden' },
  GH_PROPOSAL_UNSUPPORTED: { httpStatus: 403, reason: 'Forbidden' },
  GH_PROPOSAL_STALE: { httpStatus: 409, reason: 'Conflict' },
  GH_PROPOSAL_FAILED: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_BUDGET_EXCEEDED: { httpStatus: 403, reason: 'Forbidden' },
  GH_BUDGET_UNAVAILABLE: { httpStatus: 503, reason: 'ServiceUnavailable' },
  // Nominal status: the real one and its reason are copied from the API server's refusal of the dry-run.
  GH_DRY_RUN_REFUSED: { httpStatus: 422, reason: 'Invalid' },
  GH_MASKING_FAILED: { httpStatus: 502, reason: 'InternalError' },
  GH_MASKED_VALUE: { httpStatus: 400, reason: 'BadRequest' },
  GH_AUDIT_UNAVAILABLE: { httpStatus: 503, reason: 'ServiceUnavailable' },
  GH_SESSION_LIMIT: { httpStatus: 413, reason: 'RequestEntityTooLarge' },
  GH_INTERNAL: { httpStatus: 500, reason: 'InternalError' },
} as const satisfies Record<string, { httpStatus: number; reason: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** A machine-readable detail of a refusal, after the Gatehouse code (a Kubernetes `StatusCause`). */
export interface ErrorCause {
  reason: string;
  message: string;
  field?: string;
}

/** A refusal raised by a stage; the responder turns it into a Kubernetes Status. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;
  /** Further causes written after the first one (which is always the code), e.g. the policy rule that denied. */
  readonly causes: readonly ErrorCause[];

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      cause?: unknown;
      retryAfterSeconds?: number;
      causes?: readonly ErrorCause[];
      /** Only for refusals relayed from the API server (GH_DRY_RUN_REFUSED): its status and reason. */
      relayed?: { httpStatus: number; reason: string };
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.httpStatus = options.relayed?.httpStatus ?? errorCodes[code].httpStatus;
    this.reason = options.relayed?.reason ?? errorCodes[code].reason;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.causes = options.causes ?? [];
  }
}
