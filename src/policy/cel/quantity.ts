/**
 * Kubernetes resource quantities (`quantity("500m")`, `quantity("1Gi")`), as
 * in the Kubernetes CEL quantity library.
 *
 * A quantity is held exactly as an integer number of nano-units (bigint), so
 * comparisons are exact: `quantity("1") == quantity("1000m")`. Precision
 * finer than 1n is rounded away from zero, as Kubernetes does.
 */

const NANO = 1_000_000_000n;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
/** Longest quantity string accepted. */
const MAX_LENGTH = 128;
/** Largest decimal exponent accepted (`1e40` is already absurd for a resource). */
const MAX_EXPONENT = 40;

const BINARY: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** A parsed quantity. Immutable. */
export class Quantity {
  /**
   * @param nanos value × 10⁹
   * @param source the text it was parsed from (or a rendering of a computed value)
   */
  constructor(
    readonly nanos: bigint,
    readonly source: string,
  ) {}

  /** -1, 0 or 1. */
  sign(): bigint {
    return this.nanos < 0n ? -1n : this.nanos > 0n ? 1n : 0n;
  }

  /** -1, 0 or 1 as `this` is less than, equal to or greater than `other`. */
  compareTo(other: Quantity): bigint {
    return this.nanos < other.nanos ? -1n : this.nanos > other.nanos ? 1n : 0n;
  }

  /** True if the value is a whole number that fits in an int64. */
  isInteger(): boolean {
    if (this.nanos % NANO !== 0n) return false;
    const v = this.nanos / NANO;
    return v >= INT64_MIN && v <= INT64_MAX;
  }

  /** The value as an int64; throws if fractional or out of range. */
  asInteger(): bigint {
    if (!this.isInteger()) throw new QuantityError(`quantity ${this.source} cannot be represented as an integer`);
    return this.nanos / NANO;
  }

  /** The value as a double (may lose precision). */
  asApproximateFloat(): number {
    const whole = this.nanos / NANO;
    const frac = this.nanos % NANO;
    return Number(whole) + Number(frac) / 1e9;
  }

  add(other: Quantity): Quantity {
    return fromNanos(this.nanos + other.nanos);
  }

  sub(other: Quantity): Quantity {
    return fromNanos(this.nanos - other.nanos);
  }

  toString(): string {
    return this.source;
  }
}

/** Quantity from an int (whole units). */
export function quantityFromInt(n: bigint): Quantity {
  return new Quantity(n * NANO, n.toString());
}

function fromNanos(nanos: bigint): Quantity {
  if (nanos % NANO === 0n) return new Quantity(nanos, (nanos / NANO).toString());
  if (nanos % 1_000_000n === 0n) return new Quantity(nanos, `${nanos / 1_000_000n}m`);
  return new Quantity(nanos, `${nanos}n`);
}

/** Raised for unparsable or unrepresentable quantities. */
export class QuantityError extends Error {
  override readonly name = 'QuantityError';
}

/** Divides rounding away from zero. */
function divAway(num: bigint, den: bigint): bigint {
  const q = num / den;
  return num % den === 0n ? q : num < 0n ? q - 1n : q + 1n;
}

/**
 * Parses a Kubernetes quantity: `<sign><digits>[.<digits>]<suffix>` where the
 * suffix is a binary SI suffix (`Ki`…`Ei`), a decimal SI suffix
 * (`n u m k M G T P E` or none) or a decimal exponent (`e3`, `E-2`).
 *
 * @example
 * parseQuantity('500m').nanos // 500_000_000n
 * parseQuantity('1Gi').asInteger() // 1073741824n
 */
export function parseQuantity(text: string): Quantity {
  const bad = (why: string): never => {
    throw new QuantityError(`invalid quantity ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}: ${why}`);
  };
  if (text.length === 0) bad('empty');
  if (text.length > MAX_LENGTH) bad(`longer than ${MAX_LENGTH} characters`);

  let i = 0;
  let negative = false;
  if (text[i] === '+' || text[i] === '-') negative = text[i++] === '-';
  const intStart = i;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  const intDigits = text.slice(intStart, i);
  let fracDigits = '';
  if (text[i] === '.') {
    const fracStart = ++i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    fracDigits = text.slice(fracStart, i);
  }
  if (intDigits.length === 0 && fracDigits.length === 0) bad('no digits');
  const suffix = text.slice(i);

  // mantissa = digits / 10^fracDigits.length
  let digits = BigInt(`${intDigits}${fracDigits}` || '0');
  if (negative) digits = -digits;
  let scale = 10n ** BigInt(fracDigits.length); // value = digits / scale × multiplier

  let nanos: bigint;
  const binary = BINARY[suffix];
  if (binary !== undefined) {
    nanos = divAway(digits * binary * NANO, scale);
  } else {
    let exp: number;
    const decimal = Object.hasOwn(DECIMAL, suffix) ? DECIMAL[suffix] : undefined;
    if (decimal !== undefined) {
      exp = decimal;
    } else if ((suffix[0] === 'e' || suffix[0] === 'E') && isExponent(suffix.slice(1))) {
      exp = Number(suffix.slice(1));
    } else {
      return bad(`unknown suffix ${JSON.stringify(suffix)}`);
    }
    if (Math.abs(exp) > MAX_EXPONENT) bad('exponent out of range');
    let num = digits * NANO;
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else scale *= 10n ** BigInt(-exp);
    nanos = divAway(num, scale);
  }
  return new Quantity(nanos, text);
}

/** `[+-]?<1 to 3 digits>` */
function isExponent(s: string): boolean {
  const start = s[0] === '+' || s[0] === '-' ? 1 : 0;
  if (s.length === start || s.length - start > 3) return false;
  for (let i = start; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Parsed quantities by text (they repeat across requests: `500m`, `1Gi`, …). */
const parsed = new Map<string, Quantity>();
const PARSED_CACHE_SIZE = 1024;

/** {@link parseQuantity} with a bounded cache (quantities are immutable). */
export function parseQuantityCached(text: string): Quantity {
  let q = parsed.get(text);
  if (q === undefined) {
    q = parseQuantity(text);
    if (parsed.size >= PARSED_CACHE_SIZE) parsed.clear();
    parsed.set(text, q);
  }
  return q;
}

/** True if `text` parses as a quantity. */
export function isQuantity(text: string): boolean {
  try {
    parseQuantityCached(text);
    return true;
  } catch {
    return false;
  }
}
