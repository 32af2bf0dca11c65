import type { ReactNode } from 'react';
import { ApiError } from '../api.ts';
import { errorText } from '../format.ts';

/** An error from the API, said plainly, with the gateway's code when it gave one. */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }): ReactNode {
  const code = error instanceof ApiError ? ` (${error.status} ${error.code})` : '';
  return (
    <div className="notice notice-error" role="alert">
      {title !== undefined && <strong>{title}: </strong>}
      {errorText(error)}
      {code}
    </div>
  );
}

export function Loading({ what }: { what: string }): ReactNode {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}
