import type { GatehouseError } from '../errors/codes.js';

/** The subset of meta/v1 Status that Gatehouse writes. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: {
    causes?: { reason: string; message: string; field?: string }[];
    retryAfterSeconds?: number;
  };
}

/**
 * Builds the Status a Kubernetes client expects for a Gatehouse refusal.
 * kubectl prints `Error from server (<reason>): <message>`, so the message
 * carries the whole explanation; the machine-readable code rides in
 * `details.causes[0].reason`.
 *
 * @example
 * const body = statusFor(new GatehouseError('GH_UNAUTHENTICATED', 'no bearer token'));
 */
export function statusFor(error: GatehouseError): KubeStatus {
  const details: NonNullable<KubeStatus['details']> = {
    causes: [{ reason: error.code, message: error.message }, ...error.causes],
  };
  if (error.retryAfterSeconds !== undefined) details.retryAfterSeconds = error.retryAfterSeconds;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: error.reason,
    code: error.httpStatus,
    details,
  };
}
