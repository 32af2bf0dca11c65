/**
 * The console API's error codes: one table, each with its HTTP status.
 * Every refusal is written as `{ "error": { "code", "message" } }`;
 * docs/console-api.md lists each code and a unit test keeps the two in step.
 *
 * @module
 */

export const consoleErrorCodes = {
  'bad-request': 400,
  'invalid-policy': 400,
  unauthenticated: 401,
  forbidden: 403,
  'csrf-header-missing': 403,
  'not-found': 404,
  'method-not-allowed': 405,
  conflict: 409,
  'recording-unverified': 409,
  'body-too-large': 413,
  'unsupported-media-type': 415,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, number>;

export type ConsoleErrorCode = keyof typeof consoleErrorCodes;

/** A refusal a console handler throws; the router writes it as JSON with the code's status. */
export class ConsoleError extends Error {
  readonly code: ConsoleErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Further fields of the `error` object (e.g. `devLogin` on a 401). */
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(code: ConsoleErrorCode, message: string, options: { headers?: Record<string, string>; detail?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConsoleError';
    this.code = code;
    this.status = consoleErrorCodes[code];
    this.headers = options.headers ?? {};
    this.detail = options.detail ?? {};
  }
}
