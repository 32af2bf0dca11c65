import type { ReactNode } from 'react';
import type { AuditBody } from '../types.ts';

function pretty(body: AuditBody): string {
  if (body.encoding === 'base64') return `(${body.size} bytes of binary data, ${body.contentType ?? 'unknown type'})`;
  try {
    return JSON.stringify(JSON.parse(body.data), null, 2);
  } catch {
    return body.data;
  }
}

/** A recorded (already masked) request or response body. */
export function Body({ label, body }: { label: string; body: AuditBody | undefined }): ReactNode {
  if (body === undefined) return <p className="muted">No {label.toLowerCase()}.</p>;
  return (
    <details className="json">
      <summary>
        {label} ({body.contentType ?? 'no content type'}, {body.size} bytes{body.truncated ? ', truncated' : ''})
      </summary>
      <pre tabIndex={0}>{pretty(body)}</pre>
    </details>
  );
}
