import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCodes, GatehouseError } from '../../../src/errors/codes.js';
import { statusFor } from '../../../src/kube/status.js';

const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/errors.md'), 'utf8');

describe('error codes', () => {
  it('documents every code with its HTTP status and reason, and nothing else', () => {
    const rows = [...doc.matchAll(/^\| `(GH_[A-Z_]+)` \| (\d+) \| (\w+) \|/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    const table = Object.entries(errorCodes).map(([code, v]) => [code, v.httpStatus, v.reason]);
    expect(rows.sort()).toEqual(table.sort());
  });

  it('turns a GatehouseError into a Kubernetes Status carrying the code', () => {
    const status = statusFor(new GatehouseError('GH_UPSTREAM_UNAVAILABLE', 'down', { retryAfterSeconds: 2 }));
    expect(status).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'down',
      reason: 'ServiceUnavailable',
      code: 503,
      details: { causes: [{ reason: 'GH_UPSTREAM_UNAVAILABLE', message: 'down' }], retryAfterSeconds: 2 },
    });
  });
});
