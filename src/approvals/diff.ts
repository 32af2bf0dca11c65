/**
 * A unified diff of two texts, line by line, for approvers: the live object
 * against what the request would store. Common prefix and suffix are
 * trimmed first, so the quadratic LCS only runs over the changed middle,
 * which is bounded; past the bound the middle is shown as removed + added.
 *
 * @module
 */

const MAX_MIDDLE_LINES = 2_000;
const CONTEXT = 3;

type Op = { kind: ' ' | '-' | '+'; line: string };

/**
 * @example
 * unifiedDiff('a\nb\n', 'a\nc\n', 'live', 'after'); // '--- live\n+++ after\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n'
 */
export function unifiedDiff(before: string, after: string, fromLabel: string, toLabel: string): string {
  const a = lines(before);
  const b = lines(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  if (start === endA && start === endB) return '';
  const ops: Op[] = [
    ...a.slice(0, start).map((line): Op => ({ kind: ' ', line })),
    ...middle(a.slice(start, endA), b.slice(start, endB)),
    ...a.slice(endA).map((line): Op => ({ kind: ' ', line })),
  ];
  return `--- ${fromLabel}\n+++ ${toLabel}\n${hunks(ops).join('')}`;
}

function lines(text: string): string[] {
  const out = text.split('\n');
  if (out.at(-1) === '') out.pop();
  return out;
}

/** The edit script of the changed middle: LCS when it is small enough. */
function middle(a: string[], b: string[]): Op[] {
  if (a.length === 0 || b.length === 0 || a.length * b.length > MAX_MIDDLE_LINES * MAX_MIDDLE_LINES) {
    return [...a.map((line): Op => ({ kind: '-', line })), ...b.map((line): Op => ({ kind: '+', line }))];
  }
  // lcs[i][j]: length of the LCS of a[i..] and b[j..], one flat array.
  const w = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) ops.push({ kind: '-', line: a[i++]! });
    else ops.push({ kind: '+', line: b[j++]! });
  }
  while (i < a.length) ops.push({ kind: '-', line: a[i++]! });
  while (j < b.length) ops.push({ kind: '+', line: b[j++]! });
  return ops;
}

/** Groups the script into hunks with three lines of context, numbered as `diff -u` does. */
function hunks(ops: Op[]): string[] {
  const changed = ops.flatMap((op, k) => (op.kind === ' ' ? [] : [k]));
  const out: string[] = [];
  let k = 0;
  while (k < changed.length) {
    const first = Math.max(0, changed[k]! - CONTEXT);
    let last = changed[k]!;
    while (k + 1 < changed.length && changed[k + 1]! - last <= 2 * CONTEXT) last = changed[++k]!;
    k++;
    const end = Math.min(ops.length, last + CONTEXT + 1);
    let lineA = 1;
    let lineB = 1;
    for (const op of ops.slice(0, first)) {
      if (op.kind !== '+') lineA++;
      if (op.kind !== '-') lineB++;
    }
    const body = ops.slice(first, end);
    const countA = body.filter((op) => op.kind !== '+').length;
    const countB = body.filter((op) => op.kind !== '-').length;
    out.push(`@@ -${countA === 0 ? lineA - 1 : lineA},${countA} +${countB === 0 ? lineB - 1 : lineB},${countB} @@\n`);
    for (const op of body) out.push(`${op.kind}${op.line}\n`);
  }
  return out;
}
