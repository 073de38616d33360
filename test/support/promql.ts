/**
 * What a PromQL expression reads: its series selectors (metric name and the label names it
 * matches on) and the label names its aggregations and vector matches group by. Enough to
 * check that rules and dashboards only use metrics and labels the relay exposes; not a parser
 * of the whole language.
 * https://prometheus.io/docs/prometheus/latest/querying/basics/
 */

export interface Selector {
  metric: string;
  labels: string[];
}

export interface ExpressionUse {
  selectors: Selector[];
  /** Label names in `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`, `group_left (...)`. */
  grouping: string[];
}

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

type Token = { kind: 'ident' | 'string' | 'punct' | 'other' | 'space'; text: string };

/** Tried in order at each position. */
const TOKEN_RULES: [Token['kind'], RegExp][] = [
  ['space', /^\s+/],
  ['string', /^("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/],
  // A range or subquery: `[5m]`, `[$__rate_interval]`, `[1h:5m]`; nothing in it is a name.
  ['other', /^\[[^\]]*\]/],
  ['ident', /^[a-zA-Z_:][a-zA-Z0-9_:]*/],
  ['other', /^(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?[a-z]*)/],
  ['punct', /^(?:=~|!~|!=|==|>=|<=|[{}(),=<>+\-*/%^])/],
];

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const rest = expr.slice(i);
    const found = TOKEN_RULES.map(([kind, rule]) => ({ kind, match: rule.exec(rest) })).find((t) => t.match);
    if (!found?.match) throw new Error(`cannot read ${JSON.stringify(rest.slice(0, 20))} in ${expr}`);
    if (found.kind !== 'space') tokens.push({ kind: found.kind, text: found.match[0] });
    i += found.match[0].length;
  }
  return tokens;
}

/** The selectors and grouping labels of `expr`; throws on what it cannot read. */
export function expressionUse(expr: string): ExpressionUse {
  const tokens = tokenize(expr);
  const use: ExpressionUse = { selectors: [], grouping: [] };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.kind !== 'ident') continue;
    const next = tokens[i + 1];
    if (GROUPING.has(token.text)) {
      if (next?.text !== '(') continue;
      let j = i + 2;
      for (; j < tokens.length && tokens[j].text !== ')'; j++)
        if (tokens[j].kind === 'ident') use.grouping.push(tokens[j].text);
      i = j;
      continue;
    }
    if (AGGREGATIONS.has(token.text) || KEYWORDS.has(token.text.toLowerCase()) || next?.text === '(')
      continue;
    const selector: Selector = { metric: token.text, labels: [] };
    if (next?.text === '{') {
      let j = i + 2;
      for (; j < tokens.length && tokens[j].text !== '}'; j++) {
        if (tokens[j].kind === 'ident' && ['=', '!=', '=~', '!~'].includes(tokens[j + 1]?.text ?? ''))
          selector.labels.push(tokens[j].text);
      }
      i = j;
    }
    use.selectors.push(selector);
  }
  return use;
}
