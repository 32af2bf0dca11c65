/** Who is asking. Set by the identity stage only; every later stage reads it. */
export interface Principal {
  /** Stable subject, e.g. `admin` or `oidc:alice@example.com`. */
  subject: string;
  groups: string[];
  kind: 'human' | 'agent' | 'ci';
  via: 'bootstrap-token' | 'token' | 'oidc';
  /** Id of the Gatehouse token used, when via a token. */
  tokenId: string | undefined;
  /** The human accountable for an agent or CI token (its sponsor), when the token names one. */
  sponsor?: string | undefined;
}
