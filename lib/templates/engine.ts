import {
  CaseTag,
  Context,
  type Emitter,
  IfTag,
  Liquid,
  LiquidError,
  RawTag,
  RenderError,
  Tag,
  type TagToken,
  type Template,
  TokenKind,
  type TopLevelToken,
  toValue,
  toValueSync,
  UnlessTag,
} from 'liquidjs';

type TagClass = Parameters<Liquid['registerTag']>[1];

import { Markup, NOW_REGISTER, registerFilters } from './filters.ts';
import type { OutputFormat } from './formats.ts';
import { type LinkSyntax, linkSyntaxOf, type TurnedLink, turnedLink, type ValueSpan } from './links.ts';
import { probeData } from './probe.ts';

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
 * - limits: the template's length when parsed, and per render its time, the memory it
 *   allocates (what LiquidJS's filters and ranges count, plus every piece of text written into
 *   the output or into a `capture`, so no way of building a string escapes the count), and the
 *   length of what it produced, checked as it is written;
 * - no value in a link: the engine records which parts of a rendering values wrote, and a
 *   value inside a link construct of the format (links.ts) fails validation (where the
 *   template is rendered over probe data, every branch taken: probe.ts) and, should a render
 *   reach one anyway, fails that render, which then falls back to the sink's own rendering.
 */

export const TEMPLATE_LIMITS = {
  /** Characters of one template's source. */
  sourceChars: 20_000,
  /** Milliseconds one render may take. */
  renderMs: 1_000,
  /**
   * Allocation units one render may use: LiquidJS's own (string and list lengths its filters
   * and ranges allocate) plus every character written into the output or a `capture`.
   */
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

/** Limiter of a render (LiquidJS's `memoryLimit`): throws past its limit. */
interface Limiter {
  use(count: number): void;
}

/** Thrown when a render writes more than TEMPLATE_LIMITS.outputChars. */
class OutputLimitError extends Error {
  constructor() {
    super(`the output is over ${TEMPLATE_LIMITS.outputChars} characters`);
  }
}

/** LiquidJS's `stringify`: what its emitters write for a value. */
function written(value: unknown): string {
  const plain = toValue(value);
  if (typeof plain === 'string') return plain;
  if (plain === null || plain === undefined) return '';
  if (Array.isArray(plain)) return plain.map(written).join('');
  return String(plain);
}

/**
 * Where a render writes: the output, or a `capture`. Every write is charged to the render's
 * memory limit; the output also stops at TEMPLATE_LIMITS.outputChars as it grows, and, when
 * `track` is set, records the ranges written by values (anything but the template's own text,
 * `{% raw %}` blocks and the Markup of `| link`).
 */
class RelayEmitter implements Emitter {
  buffer = '';
  /** The template being rendered, set by renderTemplates. */
  current: Template | undefined;
  readonly spans: ValueSpan[] | undefined;
  private readonly memory: Limiter;
  private readonly maxChars: number;

  constructor(memory: Limiter, options: { maxChars?: number; track?: boolean } = {}) {
    this.memory = memory;
    this.maxChars = options.maxChars ?? Number.POSITIVE_INFINITY;
    this.spans = options.track ? [] : undefined;
  }

  write(html: unknown): void {
    const trusted = html instanceof Markup;
    const text = trusted ? html.text : written(html);
    if (text === '') return;
    this.memory.use(text.length);
    if (this.buffer.length + text.length > this.maxChars) throw new OutputLimitError();
    if (this.spans && !trusted && !isTemplateText(this.current)) {
      const at = this.current?.token.getPosition();
      const start = this.buffer.length;
      this.spans.push({ start, end: start + text.length, ...(at ? { line: at[0], column: at[1] } : {}) });
    }
    this.buffer += text;
  }
}

/** The template's own text: its literal parts and `{% raw %}` blocks. */
function isTemplateText(template: Template | undefined): boolean {
  return template !== undefined && (template.token.kind === TokenKind.HTML || template instanceof RawTag);
}

/**
 * LiquidJS's Render.renderTemplates, writing through a RelayEmitter: a capture (which renders
 * without an emitter of its own) is charged to the memory limit like the output, and the
 * emitter knows which template wrote each piece.
 */
function instrument(liquid: Liquid): void {
  liquid.renderer.renderTemplates = function* (templates: Template[], ctx: Context, emitter?: Emitter) {
    const out = emitter ?? new RelayEmitter(ctx.memoryLimit);
    const relay = out instanceof RelayEmitter ? out : undefined;
    const outer = relay?.current;
    ctx.renderLimit.check(performance.now());
    try {
      for (const template of templates) {
        ctx.renderLimit.check(performance.now());
        if (relay) relay.current = template;
        try {
          const html: unknown = yield template.render(ctx, out);
          if (html) out.write(html);
          if (ctx.breakCalled || ctx.continueCalled) break;
        } catch (error) {
          throw LiquidError.is(error) ? error : new RenderError(error as Error, template);
        }
      }
    } finally {
      if (relay) relay.current = outer;
    }
    return out.buffer;
  };
}

/*
 * The probe's branching tags: every branch rendered, one after the other, whatever the
 * condition. A value inside a link on any branch is then in the probe's rendering.
 */
class EveryBranchIf extends IfTag {
  override *render(ctx: Context, emitter: Emitter): Generator<unknown, void, string> {
    const renderer = this.liquid.renderer;
    for (const branch of this.branches) yield renderer.renderTemplates(branch.templates, ctx, emitter);
    if (this.elseTemplates) yield renderer.renderTemplates(this.elseTemplates, ctx, emitter);
  }
}

class EveryBranchUnless extends UnlessTag {
  override *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    const renderer = this.liquid.renderer;
    for (const branch of this.branches) yield renderer.renderTemplates(branch.templates, ctx, emitter);
    yield renderer.renderTemplates(this.elseTemplates, ctx, emitter);
  }
}

class EveryBranchCase extends CaseTag {
  override *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    const renderer = this.liquid.renderer;
    for (const branch of this.branches) yield renderer.renderTemplates(branch.templates, ctx, emitter);
    yield renderer.renderTemplates(this.elseTemplates, ctx, emitter);
  }
}

function createEngine(format: OutputFormat, probe: boolean): Liquid {
  const liquid = new Liquid({
    // A link (Markup) is written as built, and known as the relay's own by the emitter.
    outputEscape: ((value: unknown) => (value instanceof Markup ? value : format.escape(textOf(value)))) as (
      value: unknown,
    ) => string,
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
  if (probe) {
    liquid.registerTag('if', EveryBranchIf);
    liquid.registerTag('unless', EveryBranchUnless);
    liquid.registerTag('case', EveryBranchCase);
  }
  registerFilters(liquid, format);
  instrument(liquid);
  return liquid;
}

const engines = new WeakMap<OutputFormat, Liquid>();
const probeEngines = new WeakMap<OutputFormat, Liquid>();

/** The Liquid instance of a format (one per format: the escape is fixed at parse time). */
export function engineFor(format: OutputFormat): Liquid {
  let liquid = engines.get(format);
  if (!liquid) {
    liquid = createEngine(format, false);
    engines.set(format, liquid);
  }
  return liquid;
}

/** The same engine with every branch of `if`, `unless` and `case` rendered: for validation only. */
function probeEngineFor(format: OutputFormat): Liquid {
  let liquid = probeEngines.get(format);
  if (!liquid) {
    liquid = createEngine(format, true);
    probeEngines.set(format, liquid);
  }
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

/** Why a value in a link is refused, for validation and render errors alike. */
function turnedLinkReason(turned: TurnedLink, format: OutputFormat): string {
  return `a value in a link (${turned.construct}, ${format.name}): links from alert data need | link: "label"`;
}

/**
 * Renders `templates` (parsed by a probe engine) over each probe data set and returns the first
 * value that lands in a link, or undefined. A probe render that fails (a filter refusing a probe
 * value) is checked as far as it got.
 */
function probeLinks(source: string, format: OutputFormat, syntax: LinkSyntax): TurnedLink | undefined {
  const liquid = probeEngineFor(format);
  const templates = liquid.parse(source);
  for (const data of probeData()) {
    const context = new Context(data, liquid.options, { sync: true }, { liquid });
    context.setRegister(NOW_REGISTER, { now: Date.parse('2024-01-01T02:00:00Z') });
    const out = new RelayEmitter(context.memoryLimit, { maxChars: TEMPLATE_LIMITS.outputChars, track: true });
    try {
      toValueSync(liquid.renderer.renderTemplates(templates, context, out));
    } catch {
      // Checked as far as it rendered; the real render reports its own failure.
    }
    const turned = turnedLink(out.buffer, out.spans ?? [], syntax);
    if (turned) return turned;
  }
  return undefined;
}

/**
 * Parses `source` for `format`. Throws TemplateParseError with the line and column of the
 * problem: a syntax error, an unknown filter or tag, a refused tag, or a value that would be
 * part of a link (its target or its text) in the format, found by rendering the template over
 * probe data with every branch taken.
 *
 * @example
 * compileTemplate('[{{ status | upcase }}] {{ groupLabels | label_values | join: " " }}', markdownFormat)
 */
export function compileTemplate(source: string, format: OutputFormat): CompiledTemplate {
  if (source.length > TEMPLATE_LIMITS.sourceChars)
    throw new TemplateParseError(`longer than ${TEMPLATE_LIMITS.sourceChars} characters`);
  let templates: Template[];
  try {
    templates = engineFor(format).parse(source);
  } catch (error) {
    const { reason, line, column } = describeLiquidError(error);
    throw new TemplateParseError(reason, line, column);
  }
  const syntax = linkSyntaxOf(format.linkTargets);
  const turned = syntax === undefined ? undefined : probeLinks(source, format, syntax);
  if (turned) throw new TemplateParseError(turnedLinkReason(turned, format), turned.line, turned.column);
  return { format, templates };
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
 * tags, never I/O. Throws TemplateRenderError when it fails, runs over a limit (the memory it
 * builds, its time, TEMPLATE_LIMITS.outputChars of output: each as soon as it is passed), puts
 * a value in a link of the format, or (JSON) does not parse.
 */
export function renderTemplate(
  compiled: CompiledTemplate,
  data: Record<string, unknown>,
  options: { now?: number } = {},
): string {
  const liquid = engineFor(compiled.format);
  const syntax = linkSyntaxOf(compiled.format.linkTargets);
  let out: RelayEmitter;
  try {
    // A copy of the top level: `{% increment %}` writes into it, and the data may be shared and frozen.
    const context = new Context({ ...data }, liquid.options, { sync: true }, { liquid });
    context.setRegister(NOW_REGISTER, { now: options.now ?? Date.now() });
    out = new RelayEmitter(context.memoryLimit, {
      maxChars: TEMPLATE_LIMITS.outputChars,
      track: syntax !== undefined,
    });
    toValueSync(liquid.renderer.renderTemplates(compiled.templates, context, out));
  } catch (error) {
    // LiquidJS names its limits: "memory alloc limit exceeded", "template render limit exceeded".
    const { reason, line, column } = describeLiquidError(error);
    throw new TemplateRenderError(line === undefined ? reason : `line ${line}, column ${column}: ${reason}`);
  }
  const output = out.buffer;
  const turned = syntax === undefined ? undefined : turnedLink(output, out.spans ?? [], syntax);
  if (turned) {
    const reason = turnedLinkReason(turned, compiled.format);
    throw new TemplateRenderError(
      turned.line === undefined ? reason : `line ${turned.line}, column ${turned.column}: ${reason}`,
    );
  }
  try {
    compiled.format.check?.(output);
  } catch (error) {
    throw new TemplateRenderError((error as Error).message);
  }
  return output;
}
