/**
 * Tokens recognised by a literal prefix followed by a run of token
 * characters: GitHub, GitLab, Slack, AWS access key ids and Gatehouse's own.
 *
 * @module
 */
import { ALNUM_CHARS, ALNUM_DASH, BASE64URL, UPPER_DIGIT, WORD, charIn, runEnd, type CharClass } from './chars.js';
import type { Detector, DetectorName, Emit } from './types.js';

interface PrefixToken {
  prefix: string;
  /** Characters after the prefix. */
  body: CharClass;
  /** Fewest body characters for a match. */
  min: number;
  /** When set, the body must be exactly this long (a longer run is something else). */
  exact?: number;
}

/**
 * Finds tokens that share `anchor` (searched once with `indexOf`); at each
 * occurrence the first prefix that fits decides the body rules.
 */
function scanAnchor(text: string, anchor: string, tokens: readonly PrefixToken[], name: DetectorName, emit: Emit): void {
  let from = 0;
  for (;;) {
    const i = text.indexOf(anchor, from);
    if (i < 0) return;
    const t = tokens.find((k) => text.startsWith(k.prefix, i));
    // A token starts at a word boundary: `xghp_…` is part of something longer.
    if (t === undefined || charIn(BASE64URL, text, i - 1)) {
      from = i + 1;
      continue;
    }
    const bodyStart = i + t.prefix.length;
    const end = runEnd(text, bodyStart, t.body);
    const length = end - bodyStart;
    const fits = t.exact === undefined ? length >= t.min : length === t.exact && !charIn(ALNUM_CHARS, text, end);
    if (fits) emit(i, end, name);
    // Continuing after the run keeps the scan linear: a prefix inside the run would end at the same place.
    from = Math.max(end, i + 1);
  }
}

/** A detector for groups of tokens, each group found by its anchor. */
function prefixDetector(name: DetectorName, groups: Readonly<Record<string, readonly PrefixToken[]>>): Detector {
  const entries = Object.entries(groups);
  const [first = '', ...others] = Object.values(groups).flatMap((tokens) => tokens.map((t) => t.prefix));
  return {
    names: [name],
    // Every finding starts with one of the prefixes, so it has the characters they all share.
    needs: [...new Set(first)].filter((ch) => others.every((prefix) => prefix.includes(ch))),
    scan(text: string, emit: Emit): void {
      for (const [anchor, tokens] of entries) scanAnchor(text, anchor, tokens, name, emit);
    },
  };
}

const githubClassic = ['ghp_', 'gho_', 'ghs_', 'ghu_', 'ghr_'].map((prefix) => ({ prefix, body: ALNUM_CHARS, min: 30 }));

/** GitHub tokens: classic (`ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_` + 36 characters) and fine-grained (`github_pat_…`). */
export const githubToken = prefixDetector('github-token', {
  gh: githubClassic,
  github_pat_: [{ prefix: 'github_pat_', body: WORD, min: 22 }],
});

/** GitLab personal access tokens (`glpat-` + at least 20 characters). */
export const gitlabToken = prefixDetector('gitlab-token', { 'glpat-': [{ prefix: 'glpat-', body: BASE64URL, min: 20 }] });

/** Slack tokens: `xoxb-`, `xoxa-`, `xoxp-`, `xoxr-`, `xoxs-`. */
export const slackToken = prefixDetector('slack-token', {
  xox: ['xoxb-', 'xoxa-', 'xoxp-', 'xoxr-', 'xoxs-'].map((prefix) => ({ prefix, body: ALNUM_DASH, min: 10 })),
});

/** AWS access key ids: `AKIA` (long-term) or `ASIA` (temporary) and exactly 16 upper-case letters or digits. */
export const awsAccessKey = prefixDetector('aws-access-key', {
  AKIA: [{ prefix: 'AKIA', body: UPPER_DIGIT, min: 16, exact: 16 }],
  ASIA: [{ prefix: 'ASIA', body: UPPER_DIGIT, min: 16, exact: 16 }],
});

/** Gatehouse API tokens (`ght_`) and bootstrap tokens (`ghb_`): the prefix and 43 base64url characters. */
export const gatehouseToken = prefixDetector('gatehouse-token', { gh: ['ght_', 'ghb_'].map((prefix) => ({ prefix, body: BASE64URL, min: 40 })) });
