import { Context, Liquid, Tag, type TagToken, type Template, type TopLevelToken } from 'liquidjs';

type TagClass = Parameters<Liquid['registerTag']>[1];

import { Markup, NOW_REGISTER, registerFilters } from './filters.ts';
import type { OutputFormat } from './formats.ts';

/**
 * The template engine: LiquidJS (https://liquidjs.com), which evaluates no code, only Liquid's
 * tags and filters over the data it is given, with the relay's settings:
 *
 * - every `{{ value }}` and `{% echo %}` passes through the format's escape (`outputEscape`),
 *   after its filters, unless the last filter is `raw`;
 * - `ownPropertyOnly`: a template reads only the data's own fields, nothing of a prototype;
 * - `strictFilters`: an unknown filter fails validation instead of vanishing;
 * - no file system: `include`, `render`, `layout` and `block` refuse to parse, and so do
 *   `cycle` and `tablerow` (they write values past the escape);
 * - limits: the template's length when parsed, and per render its time, the memory its
 *   filters and loops allocate, and the length of what it produced.
 */

export const TEMPLATE_LIMITS = {
  /** Characters of one template's source. */
  sourceChars: 20_000,
  /** Milliseconds one render may take. */
  renderMs: 1_000,
  /** LiquidJS's allocation units (string and array lengths) one render may use. */
  memory: 5_000_000,
  /** Characters one render may produce; a sink cuts to its vendor's own limits after this. */
  outputChars: 100_000,
} as const;

/** Tags a relay template may not use, and why (the message names the tag). */
const REFUSED_TAGS: Record<string, string> = {
  include: 'templates cannot read files',
  render: 'templates cannot read files',
  layout: 'templates cannot read files',
  block: 'templates cannot read files (block belongs to layout)',
  cycle: 'it writes values without escaping them',
  tablerow: 'it writes HTML table markup',
};

function refusedTag(name: string, why: string): TagClass {
  return class extends Tag {
    constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid) {
      super(token, remain, liquid);
      throw new Error(`the ${name} tag is not available: ${why}`);
    }
    render(): undefined {
      return undefined;
    }
  };
}

const engines = new WeakMap<OutputFormat, Liquid>();

/** The Liquid instance of a format (one per format: the escape is fixed at parse time). */
export function engineFor(format: OutputFormat): Liquid {
  let liquid = engines.get(format);
  if (liquid) return liquid;
  liquid = new Liquid({
    outputEscape: (value: unknown) => (value instanceof Markup ? value.text : format.escape(textOf(value))),
    ownPropertyOnly: true,
    strictFilters: true,
    // A label that one alert lacks renders as nothing, as in Alertmanager's templates.
    strictVariables: false,
    // In-memory lookup with no entries: nothing on disk is ever read.
    templates: {},
    relativeReference: false,
    dynamicPartials: false,
    parseLimit: TEMPLATE_LIMITS.sourceChars,
    renderLimit: TEMPLATE_LIMITS.renderMs,
    memoryLimit: TEMPLATE_LIMITS.memory,
    // The `date` filter in UTC, whatever the machine's zone.
    timezoneOffset: 0,
    cache: false,
  });
  for (const [name, why] of Object.entries(REFUSED_TAGS)) liquid.registerTag(name, refusedTag(name, why));
  registerFilters(liquid, format);
  engines.set(format, liquid);
  return liquid;
}

/** A value as text: arrays joined, nothing for null, dates as ISO 8601. */
function textOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(textOf).join('');
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value) ?? '';
  return String(value);
}

/** A template that did not parse, with where. */
export class TemplateParseError extends Error {
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly reason: string;
  constructor(reason: string, line?: number, column?: number) {
    super(line === undefined ? reason : `line ${line}, column ${column}: ${reason}`);
    this.name = 'TemplateParseError';
    this.reason = reason;
    this.line = line;
    this.column = column;
  }
}

/** A parsed template, ready to render many times. */
export interface CompiledTemplate {
  readonly format: OutputFormat;
  readonly templates: Template[];
}

/** 1-based line and column of `offset` in `source`. */
function position(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** LiquidJS's message without the ", line:1, col:5" it appends, and the position from its token. */
function describeLiquidError(error: unknown): { reason: string; line?: number; column?: number } {
  const e = error as {
    message?: string;
    originalError?: { message?: string };
    token?: { getPosition?: () => [number, number] };
  };
  const raw = e.originalError?.message ?? e.message ?? String(error);
  const reason = raw.replace(/, line:\d+, col:\d+$/, '').split('\n')[0];
  const at = e.token?.getPosition?.();
  return at ? { reason, line: at[0], column: at[1] } : { reason };
}

/**
 * Parses `source` for `format`. Throws TemplateParseError with the line and column of the
 * problem: a syntax error, an unknown filter or tag, a refused tag, or a value in a link target.
 *
 * @example
 * compileTemplate('[{{ status | upcase }}] {{ groupLabels | label_values | join: " " }}', markdownFormat)
 */
export function compileTemplate(source: string, format: OutputFormat): CompiledTemplate {
  if (source.length > TEMPLATE_LIMITS.sourceChars)
    throw new TemplateParseError(`longer than ${TEMPLATE_LIMITS.sourceChars} characters`);
  for (const opener of format.linkTargets) {
    const pattern = new RegExp(`${opener.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\{[{%]`, 'g');
    const found = pattern.exec(source);
    if (found) {
      const at = position(source, found.index + found[0].length - 2);
      throw new TemplateParseError(
        `a value right after "${opener}" would be a link target in ${format.name}: build links with | link: "label"`,
        at.line,
        at.column,
      );
    }
  }
  try {
    return { format, templates: engineFor(format).parse(source) };
  } catch (error) {
    const { reason, line, column } = describeLiquidError(error);
    throw new TemplateParseError(reason, line, column);
  }
}

/** Why a render failed: one line, no alert content. */
export class TemplateRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateRenderError';
  }
}

/**
 * Renders a compiled template over `data`. Synchronous: a render evaluates only filters and
 * tags, never I/O. Throws TemplateRenderError when it fails, runs over a limit, produces more
 * than TEMPLATE_LIMITS.outputChars, or (JSON) does not parse.
 */
export function renderTemplate(
  compiled: CompiledTemplate,
  data: Record<string, unknown>,
  options: { now?: number } = {},
): string {
  const liquid = engineFor(compiled.format);
  let output: string;
  try {
    const context = new Context(data, liquid.options, { sync: true }, { liquid });
    context.setRegister(NOW_REGISTER, { now: options.now ?? Date.now() });
    output = String(liquid.renderSync(compiled.templates, context));
  } catch (error) {
    const { reason, line, column } = describeLiquidError(error);
    throw new TemplateRenderError(line === undefined ? reason : `line ${line}, column ${column}: ${reason}`);
  }
  if (output.length > TEMPLATE_LIMITS.outputChars)
    throw new TemplateRenderError(`the output is over ${TEMPLATE_LIMITS.outputChars} characters`);
  try {
    compiled.format.check?.(output);
  } catch (error) {
    throw new TemplateRenderError((error as Error).message);
  }
  return output;
}
