/**
 * Alert expressions usually end in a comparison (`latency_seconds > 0.5`), and a range query
 * of the whole expression returns only the points where it held: the chart would start when
 * the alert did. When the comparison is the expression's last top-level operation against a
 * number, we query its left-hand side and draw the number as a threshold line instead.
 */

export type ComparisonOperator = '==' | '!=' | '>' | '>=' | '<' | '<=';

export interface SplitThreshold {
  /** The left-hand side: what to query. */
  query: string;
  operator: ComparisonOperator;
  threshold: number;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const IDENTIFIER = /[A-Za-z0-9_:]/;
const SET_OPERATORS = new Set(['and', 'or', 'unless']);

/**
 * `histogram_quantile(0.99, ...) > 0.5` -> `{ query: 'histogram_quantile(0.99, ...)', operator: '>', threshold: 0.5 }`.
 * Undefined when the expression has no such comparison, more than one, a `bool` modifier,
 * a set operator (and/or/unless) at the top level, or anything but a number on the right.
 */
export function splitThreshold(expr: string): SplitThreshold | undefined {
  const found: { index: number; operator: ComparisonOperator }[] = [];
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    const char = expr[i] as string;
    if (char === '"' || char === "'" || char === '`') {
      i = endOfString(expr, i);
      if (i === -1) return undefined;
      continue;
    }
    if (char === '#') {
      const newline = expr.indexOf('\n', i);
      if (newline === -1) break;
      i = newline;
      continue;
    }
    if (char === '(' || char === '{' || char === '[') depth++;
    else if (char === ')' || char === '}' || char === ']') depth--;
    if (depth !== 0) continue;
    if (IDENTIFIER.test(char) && (i === 0 || !IDENTIFIER.test(expr[i - 1] as string))) {
      let end = i;
      while (end < expr.length && IDENTIFIER.test(expr[end] as string)) end++;
      if (SET_OPERATORS.has(expr.slice(i, end).toLowerCase())) return undefined;
      i = end - 1;
      continue;
    }
    const two = expr.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '>=' || two === '<=') {
      found.push({ index: i, operator: two });
      i++;
    } else if (char === '>' || char === '<') {
      found.push({ index: i, operator: char });
    }
  }
  if (found.length !== 1 || depth !== 0) return undefined;
  const { index, operator } = found[0] as { index: number; operator: ComparisonOperator };
  const query = expr.slice(0, index).trim();
  const right = expr.slice(index + operator.length).trim();
  if (query === '' || !NUMBER.test(right)) return undefined;
  return { query, operator, threshold: Number(right) };
}

function endOfString(expr: string, start: number): number {
  const quote = expr[start];
  for (let i = start + 1; i < expr.length; i++) {
    if (quote !== '`' && expr[i] === '\\') i++;
    else if (expr[i] === quote) return i;
  }
  return -1;
}
