import { useId, useState } from 'react';
import type { ReactNode } from 'react';

/** Copies `text` to the clipboard; says "Copied" once it is there. `label` names what is copied for screen readers. */
export function CopyButton({ text, label }: { text: string; label?: string }): ReactNode {
  const [copied, setCopied] = useState(false);
  const copy = (): void => {
    navigator.clipboard.writeText(text).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };
  return (
    <button type="button" onClick={copy}>
      {copied ? 'Copied' : 'Copy'}
      {label !== undefined && <span className="visually-hidden"> {label}</span>}
    </button>
  );
}

/**
 * A secret the gateway shows once (it keeps only a hash): `lead` says what was
 * made, then the secret with a Copy button, then `children` (what to do with
 * it), then Done.
 *
 * @example
 * <SecretOnce secret={created.secret} lead={<>Token <strong>ci</strong> created.</>} onDone={close} />
 */
export function SecretOnce({ secret, lead, children, onDone }: { secret: string; lead: ReactNode; children?: ReactNode; onDone: () => void }): ReactNode {
  const id = useId();
  return (
    <div className="notice notice-success" role="status">
      <p>{lead} Copy its secret now: it is not shown again.</p>
      <label htmlFor={id}>Secret</label>
      <div className="secret-row">
        <input id={id} readOnly value={secret} onFocus={(e) => e.target.select()} />
        <CopyButton text={secret} />
      </div>
      {children}
      <button type="button" onClick={onDone}>
        Done
      </button>
    </div>
  );
}
