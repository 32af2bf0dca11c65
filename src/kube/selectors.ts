/**
 * Field and label selector parsing, ported from apimachinery
 * (`fields.ParseSelector` + `RequiresExactMatch`, `labels.Parse`, and the
 * `validation` checks on label keys and values), as far as the RequestInfo
 * resolver needs it: which name a field selector pins, and whether a label
 * selector parses at all.
 *
 * Both answers must agree with the API server's: a field selector that pins
 * `metadata.name` narrows a list to one object for authorization, and a label
 * selector that fails to parse makes the whole list-option decode fail, which
 * drops that name again (see `list-query.ts`).
 *
 * @module
 */

const BACKSLASH = 0x5c;
const DOT = 0x2e;

// ---- Field selectors (apimachinery fields.ParseSelector + RequiresExactMatch). ----

/**
 * The value an equality term pins `field` to, undefined if none does, or null
 * when the selector does not parse. Go sorts the terms and answers with the
 * first match, so the match whose whole term sorts lowest wins.
 *
 * @param selector The decoded `fieldSelector` query value.
 * @param field The field to look for, e.g. `metadata.name` (compared exactly, not trimmed).
 * @returns The unescaped value of the winning `=` or `==` term, undefined when no
 *   such term names `field`, or null when `fields.ParseSelector` would fail.
 *
 * @example
 * fieldSelectorExactMatch('metadata.name=b,metadata.name=a', 'metadata.name'); // 'a'
 * fieldSelectorExactMatch('metadata.name=a\\,b', 'metadata.name');             // 'a,b'
 * fieldSelectorExactMatch('metadata.name', 'metadata.name');                    // null
 */
export function fieldSelectorExactMatch(selector: string, field: string): string | undefined | null {
  let bestTerm: string | undefined;
  let bestValue: string | undefined;
  let termStart = 0;
  let inSlash = false;
  for (let i = 0; i <= selector.length; i++) {
    if (i < selector.length) {
      const c = selector.charCodeAt(i);
      if (inSlash) {
        inSlash = false;
        continue;
      }
      if (c === BACKSLASH) {
        inSlash = true;
        continue;
      }
      if (c !== 0x2c) continue;
    }
    const term = selector.slice(termStart, i);
    termStart = i + 1;
    if (term === '') continue;
    const parsed = parseFieldTerm(term);
    if (parsed === null) return null;
    if (parsed.op !== '!=' && parsed.field === field && (bestTerm === undefined || compareCodePoints(term, bestTerm) < 0)) {
      bestTerm = term;
      bestValue = parsed.value;
    }
  }
  return bestValue;
}

function parseFieldTerm(term: string): { field: string; op: string; value: string } | null {
  for (let i = 0; i < term.length; i++) {
    const c = term.charCodeAt(i);
    let op = '';
    if (c === 0x21 && term.charCodeAt(i + 1) === 0x3d) op = '!=';
    else if (c === 0x3d) op = term.charCodeAt(i + 1) === 0x3d ? '==' : '=';
    if (op === '') continue;
    const value = unescapeFieldValue(term.slice(i + op.length));
    if (value === null) return null;
    return { field: term.slice(0, i), op, value };
  }
  return null;
}

/** fields.UnescapeValue: '\\', '\,' and '\=' are the only escapes; bare ',' and '=' are errors. */
function unescapeFieldValue(s: string): string | null {
  let out = '';
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (inSlash) {
      if (ch !== '\\' && ch !== ',' && ch !== '=') return null;
      out += ch;
      inSlash = false;
    } else if (ch === '\\') {
      inSlash = true;
    } else if (ch === ',' || ch === '=') {
      return null;
    } else {
      out += ch;
    }
  }
  return inSlash ? null : out;
}

/** Orders strings by code point (Go's byte order on UTF-8), not by UTF-16 unit. */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return surrogateLast(x) - surrogateLast(y);
  }
  return a.length - b.length;
}

function surrogateLast(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
  if (c >= 0xe000) return c - 0x800;
  return c;
}

// ---- Label selectors (apimachinery labels.Parse), answering only "does it parse?". ----

enum Tok {
  Error,
  End,
  CloseParen,
  Comma,
  Not,
  DoubleEquals,
  Equals,
  Greater,
  Identifier,
  In,
  Less,
  NotEquals,
  NotIn,
  OpenParen,
}

const LABEL_TOKENS: ReadonlyMap<string, Tok> = new Map([
  [')', Tok.CloseParen],
  [',', Tok.Comma],
  ['!', Tok.Not],
  ['==', Tok.DoubleEquals],
  ['=', Tok.Equals],
  ['>', Tok.Greater],
  ['in', Tok.In],
  ['<', Tok.Less],
  ['!=', Tok.NotEquals],
  ['notin', Tok.NotIn],
  ['(', Tok.OpenParen],
]);

function isLabelWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

function isLabelSpecial(c: number): boolean {
  return c === 0x3d || c === 0x21 || c === 0x28 || c === 0x29 || c === 0x2c || c === 0x3e || c === 0x3c;
}

/**
 * The Go lexer, kept literal because of its NUL quirk: `read` returns 0 both
 * at the end and for a NUL character (after stepping over it), so a NUL at the
 * start of a token ends the selector while one after an identifier or an
 * operator merely ends that token.
 */
function lexLabelSelector(s: string): { tok: Tok; lit: string }[] {
  let pos = 0;
  const read = (): number => (pos < s.length ? s.charCodeAt(pos++) : 0);
  const items: { tok: Tok; lit: string }[] = [];
  for (;;) {
    let ch = read();
    while (isLabelWhitespace(ch)) ch = read();
    if (ch === 0) {
      items.push({ tok: Tok.End, lit: '' });
      return items;
    }
    pos--;
    const start = pos;
    if (isLabelSpecial(ch)) {
      let last: Tok | undefined;
      let lastEnd = pos;
      for (;;) {
        const c = read();
        if (c === 0) break;
        if (!isLabelSpecial(c)) {
          pos--;
          break;
        }
        const tok = LABEL_TOKENS.get(s.slice(start, pos));
        if (tok !== undefined) {
          last = tok;
          lastEnd = pos;
        } else if (last !== undefined) {
          pos--;
          break;
        }
      }
      // Every single special character is a token, so `last` is always set.
      items.push({ tok: last ?? Tok.Error, lit: s.slice(start, lastEnd) });
      continue;
    }
    let end = start;
    while (end < s.length) {
      const c = s.charCodeAt(end);
      if (c === 0 || isLabelSpecial(c) || isLabelWhitespace(c)) break;
      end++;
    }
    pos = end < s.length && s.charCodeAt(end) === 0 ? end + 1 : end;
    const lit = s.slice(start, end);
    items.push({ tok: LABEL_TOKENS.get(lit) ?? Tok.Identifier, lit });
  }
}

/**
 * True when `labels.Parse(s)` returns no error: the lexer quirks, the
 * qualified-name keys, the label values and the integer operands of `>` and
 * `<` are all checked as in Go. The selector itself is not built.
 *
 * @param s The decoded `labelSelector` query value.
 *
 * @example
 * labelSelectorParses('app in (a,b),!tier'); // true
 * labelSelectorParses('app===x');            // false
 */
export function labelSelectorParses(s: string): boolean {
  const items = lexLabelSelector(s);
  let p = 0;
  const at = (i: number): Tok => (i < items.length ? items[i]!.tok : Tok.End);
  // In value position the keywords 'in' and 'notin' are plain identifiers.
  const asValue = (t: Tok): Tok => (t === Tok.In || t === Tok.NotIn ? Tok.Identifier : t);
  const look = (): Tok => asValue(at(p));
  const next = (): { tok: Tok; lit: string } => {
    const item = items[p] ?? { tok: Tok.End, lit: '' };
    p++;
    return item;
  };

  const requirement = (): boolean => {
    let t = next();
    let notExists = false;
    if (asValue(t.tok) === Tok.Not) {
      notExists = true;
      t = next();
    }
    if (asValue(t.tok) !== Tok.Identifier || !isQualifiedName(t.lit)) return false;
    const after = look();
    if (notExists || after === Tok.End || after === Tok.Comma) return true;
    const op = next().tok;
    const values: string[] = [];
    switch (op) {
      case Tok.In:
      case Tok.NotIn: {
        if (asValue(next().tok) !== Tok.OpenParen) return false;
        const first = look();
        if (first === Tok.CloseParen) {
          next();
          values.push('');
          break;
        }
        if (first !== Tok.Identifier && first !== Tok.Comma) return false;
        for (;;) {
          const v = next();
          const vt = asValue(v.tok);
          if (vt === Tok.Identifier) {
            values.push(v.lit);
            const t2 = look();
            if (t2 === Tok.CloseParen) break;
            if (t2 !== Tok.Comma) return false;
          } else if (vt === Tok.Comma) {
            values.push('');
            const t2 = look();
            if (t2 === Tok.CloseParen) break;
            if (t2 === Tok.Comma) next();
          } else {
            return false;
          }
        }
        if (asValue(next().tok) !== Tok.CloseParen) return false;
        break;
      }
      case Tok.Equals:
      case Tok.DoubleEquals:
      case Tok.NotEquals:
      case Tok.Greater:
      case Tok.Less: {
        const t2 = look();
        if (t2 === Tok.End || t2 === Tok.Comma) {
          values.push('');
        } else {
          const v = next();
          if (asValue(v.tok) !== Tok.Identifier) return false;
          values.push(v.lit);
        }
        if ((op === Tok.Greater || op === Tok.Less) && !isGoInt64(values[0]!)) return false;
        break;
      }
      default:
        return false;
    }
    return values.every(isValidLabelValue);
  };

  for (;;) {
    const t = look();
    if (t === Tok.End) return true;
    if (t !== Tok.Identifier && t !== Tok.Not) return false;
    if (!requirement()) return false;
    const sep = asValue(next().tok);
    if (sep === Tok.End) return true;
    if (sep !== Tok.Comma) return false;
    const t2 = look();
    if (t2 !== Tok.Identifier && t2 !== Tok.Not) return false;
  }
}

function isAsciiAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * validation.IsQualifiedName: [DNS-1123 subdomain '/'] name, name of 1-63
 * [-A-Za-z0-9_.] with alphanumeric ends. This is what a label key must be.
 *
 * @example
 * isQualifiedName('example.com/app'); // true
 * isQualifiedName('Example.com/app'); // false: the prefix is a lower-case DNS subdomain
 */
export function isQualifiedName(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash >= 0) {
    if (s.indexOf('/', slash + 1) >= 0) return false;
    if (!isDns1123Subdomain(s.slice(0, slash))) return false;
    return isQualifiedNamePart(s.slice(slash + 1));
  }
  return isQualifiedNamePart(s);
}

function isQualifiedNamePart(s: string): boolean {
  if (s.length === 0 || s.length > 63) return false;
  if (!isAsciiAlnum(s.charCodeAt(0)) || !isAsciiAlnum(s.charCodeAt(s.length - 1))) return false;
  for (let i = 1; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (!isAsciiAlnum(c) && c !== 0x2d && c !== 0x5f && c !== DOT) return false;
  }
  return true;
}

/** validation.IsValidLabelValue: empty, or a qualified-name part. */
function isValidLabelValue(s: string): boolean {
  return s.length === 0 || isQualifiedNamePart(s);
}

/** validation.IsDNS1123Subdomain: at most 253 characters of dot-separated lower-case RFC 1123 labels. */
function isDns1123Subdomain(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  let labelStart = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : DOT;
    if (c === DOT) {
      if (i === labelStart) return false;
      if (s.charCodeAt(i - 1) === 0x2d) return false;
      labelStart = i + 1;
      continue;
    }
    const lowerAlnum = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a);
    if (!lowerAlnum && !(c === 0x2d && i !== labelStart)) return false;
  }
  return true;
}

// ---- Go integer syntax (strconv). ----

/**
 * True when Go's `strconv.ParseInt(s, 10, 64)` succeeds: an optional sign,
 * at least one ASCII digit, nothing else, within the int64 range. Label
 * selectors need it for `>` and `<` operands, list options for `limit` and
 * `timeoutSeconds`.
 *
 * @example
 * isGoInt64('-9223372036854775808'); // true
 * isGoInt64('1_000');                // false
 */
export function isGoInt64(s: string): boolean {
  let i = 0;
  let negative = false;
  if (s.length > 0 && (s[0] === '+' || s[0] === '-')) {
    negative = s[0] === '-';
    i = 1;
  }
  if (i === s.length) return false;
  for (let j = i; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return false;
  }
  while (i < s.length - 1 && s.charCodeAt(i) === 0x30) i++;
  const digits = s.length - i;
  if (digits < 19) return true;
  if (digits > 19) return false;
  return s.slice(i) <= (negative ? '9223372036854775808' : '9223372036854775807');
}
