import { useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { ErrorNotice } from './Notice.tsx';
import { useAction } from '../useAction.ts';

/** One of the form's two buttons: what it is called and what it does with the comment. */
interface Choice<T> {
  label: string;
  run: (comment: string) => Promise<T>;
}

export interface DecideFormProps<T> {
  /** What is decided, for the notice when the person may not ("request", "proposal"). */
  subject: string;
  canDecide: boolean;
  cannotDecideReason: string | null | undefined;
  /** A line above the comment, e.g. what the positive choice does. */
  note?: ReactNode;
  accept: Choice<T>;
  /** The negative choice, which needs a comment; `why` asks for it. */
  refuse: Choice<T> & { why: string };
  /** Title of the error shown when the gateway refuses the choice. */
  errorTitle: string;
  onDecided: (value: T) => void;
}

/**
 * The Decide panel of an approval or a proposal: a comment (required for the
 * negative choice, since the requester reads it) and the two buttons, disabled
 * with the reason shown when this person may not decide.
 *
 * @example
 * <DecideForm subject="request" canDecide={a.canDecide} cannotDecideReason={a.cannotDecideReason} errorTitle="The gateway refused the decision"
 *   accept={{ label: 'Approve', run: (c) => decideApproval(a.id, 'approve', c) }}
 *   refuse={{ label: 'Deny', why: 'Say why you deny it.', run: (c) => decideApproval(a.id, 'deny', c) }} onDecided={setApproval} />
 */
export function DecideForm<T>({ subject, canDecide, cannotDecideReason, note, accept, refuse, errorTitle, onDecided }: DecideFormProps<T>): ReactNode {
  const [comment, setComment] = useState('');
  const { busy, error, run } = useAction<T>();
  const [missingComment, setMissingComment] = useState(false);
  const choose = (choice: Choice<T>): void => {
    const missing = choice === refuse && comment.trim() === '';
    setMissingComment(missing);
    if (missing) return;
    run(() => choice.run(comment.trim()), onDecided);
  };
  const onSubmit = (e: FormEvent): void => e.preventDefault();
  const disabled = busy || !canDecide;
  const describedBy = canDecide ? undefined : 'cannot-decide';
  return (
    <form className="panel decide" onSubmit={onSubmit} aria-labelledby="decide-h">
      <h2 id="decide-h">Decide</h2>
      {!canDecide && (
        <p className="notice" id="cannot-decide">
          You cannot decide this {subject}: {cannotDecideReason ?? 'not allowed'}
        </p>
      )}
      {note}
      <label htmlFor="comment">Comment (required to {refuse.label.toLowerCase()})</label>
      <textarea
        id="comment"
        rows={3}
        value={comment}
        onChange={(e) => {
          setComment(e.target.value);
          setMissingComment(false);
        }}
        disabled={disabled}
        aria-invalid={missingComment}
        aria-describedby={missingComment ? 'comment-error' : undefined}
      />
      {missingComment && (
        <p className="field-error" id="comment-error" role="alert">
          {refuse.why}
        </p>
      )}
      <div className="actions">
        <button type="button" className="primary approve" onClick={() => choose(accept)} disabled={disabled} aria-describedby={describedBy}>
          {accept.label}
        </button>
        <button type="button" className="danger" onClick={() => choose(refuse)} disabled={disabled} aria-describedby={describedBy}>
          {refuse.label}
        </button>
      </div>
      {error !== undefined && <ErrorNotice error={error} title={errorTitle} />}
    </form>
  );
}
