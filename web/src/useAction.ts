import { useState } from 'react';

export interface ActionState<T> {
  busy: boolean;
  error: unknown;
  /** Runs one action (a decision, a report): busy until it settles, then `done` with its answer, or the error kept. */
  run: (work: () => Promise<T>, done: (value: T) => void) => void;
}

/** The state of a button's action: the request in flight and its error, for forms that send one thing at a time. */
export function useAction<T>(): ActionState<T> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return {
    busy,
    error,
    run: (work, done) => {
      setBusy(true);
      setError(undefined);
      work().then(
        (value) => {
          setBusy(false);
          done(value);
        },
        (e: unknown) => {
          setBusy(false);
          setError(e);
        },
      );
    },
  };
}
