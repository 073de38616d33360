import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/config-error.ts';
import { validateConfig } from '../../lib/config/load.ts';
import { googleChatFormat } from '../../lib/sinks/googlechat/text.ts';
import { mattermostFormat } from '../../lib/sinks/mattermost/render.ts';
import { templateData } from '../../lib/templates/data.ts';
import { renderDestinationTemplates, type TemplateSpec } from '../../lib/templates/destination.ts';
import {
  compileTemplate,
  renderTemplate,
  TEMPLATE_LIMITS,
  TemplateParseError,
  TemplateRenderError,
} from '../../lib/templates/engine.ts';
import { markdownFormat, mrkdwnFormat, type OutputFormat, textFormat } from '../../lib/templates/formats.ts';
import { turnedLink } from '../../lib/templates/links.ts';
import { makeNotification } from '../support/notifications.ts';
import { capturingLogger } from '../support/vendor-delivery.ts';

/**
 * Issue 22, "templates can't be turned": a value from the notification is never part of a
 * link's target or text unless it went through `| link`, in the syntax of every chat sink;
 * and every way a template builds a string counts against the render's limits.
 */

const REASON = (construct: string, format: string) =>
  `a value in a link (${construct}, ${format}): links from alert data need | link: "label"`;

/** Each chat sink: a destination config, its text format, and its link syntax. */
const CHAT_SINKS = [
  {
    sink: 'slack',
    fields: { tokenSecret: 'SLACK_TOKEN', channel: 'C0123456789' },
    format: 'mrkdwn',
    angle: true,
  },
  { sink: 'googlechat', fields: { webhookUrlSecret: 'GCHAT_URL' }, format: 'googlechat', angle: true },
  { sink: 'discord', fields: { webhookUrlSecret: 'DISCORD_URL' }, format: 'markdown', angle: false },
  { sink: 'teams', fields: { webhookUrlSecret: 'TEAMS_URL' }, format: 'markdown', angle: false },
  {
    sink: 'mattermost',
    fields: {
      baseUrl: 'https://mattermost.example',
      tokenSecret: 'MM_TOKEN',
      channelId: 'abcdefghijklmnopqrstuvwxyz',
    },
    format: 'mattermost',
    angle: false,
  },
] as const;

/** The problems config validation reports for a `text` template on `sink`. */
function problems(chat: (typeof CHAT_SINKS)[number], text: string): string[] {
  try {
    validateConfig(
      { destinations: [{ name: 'ops', sink: chat.sink, ...chat.fields, templates: { text } }] },
      'relay.yaml',
    );
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const at = (chat: (typeof CHAT_SINKS)[number]) =>
  `destinations[0]: destination "ops" (${chat.sink}) templates.text`;

describe('Validation: a value in a link, at every chat sink', () => {
  it.each(CHAT_SINKS.filter((c) => c.angle))(
    "should refuse issue 22's <url|text> repro for $sink, naming destination, key, line and column",
    (chat) => {
      // Act: a label holding "foo|Your session expired - click to log in" would write the link text.
      const found = problems(chat, 'Dashboards:\n<https://grafana.example/d/{{ commonLabels.x }}|Dashboard>');

      // Assess
      expect(found).toEqual([`${at(chat)}: line 2, column 28: ${REASON('<url|text> token', chat.format)}`]);
    },
  );

  it.each(CHAT_SINKS.filter((c) => !c.angle))(
    "should refuse issue 22's [Dash](https://{{ host }}/d) repro for $sink, naming destination, key, line and column",
    (chat) => {
      // Act: the value would choose the host of the link.
      const found = problems(chat, '[Dash](https://{{ host }}/d)');

      // Assess
      expect(found).toEqual([
        `${at(chat)}: line 1, column 16: ${REASON('Markdown link [text](url)', chat.format)}`,
      ]);
    },
  );

  const markdownCases: [string, string, string][] = [
    ['an image', '![chart](https://{{ commonLabels.host }}/c.png)', 'Markdown image ![alt](url)'],
    [
      'a link target',
      '[Dashboard](https://grafana.example/d/{{ commonLabels.x }})',
      'Markdown link [text](url)',
    ],
    ['a link text', '[{{ commonLabels.alertname }}](https://grafana.example/d)', 'Markdown link [text](url)'],
    ['an autolink', '<https://{{ commonLabels.host }}/d>', 'Markdown autolink or HTML tag <...>'],
    [
      'a reference',
      '[Dash][d]\n\n[d]: https://{{ commonLabels.host }}/d',
      'Markdown link reference definition [ref]: url',
    ],
    ['a bare URL', 'Open https://grafana.example/d/{{ commonLabels.x }} now', 'bare URL'],
  ];
  for (const chat of CHAT_SINKS.filter((c) => !c.angle))
    it.each(markdownCases)(`should refuse a value in %s for ${chat.sink}`, (_, text, construct) => {
      // Act
      const found = problems(chat, text);

      // Assess
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(new RegExp(`^${escapeRegExp(at(chat))}: line \\d+, column \\d+: `));
      expect(found[0]).toContain(REASON(construct, chat.format));
    });

  const angleCases: [string, string, string][] = [
    ['a link text', '<https://grafana.example/d|{{ commonLabels.alertname }}>', '<url|text> token'],
    ['a link target', '<{{ externalURL }}|Alertmanager>', '<url|text> token'],
    ['a bare URL', 'Open https://grafana.example/d/{{ commonLabels.x }} now', 'bare URL'],
    ['a bare URL the value starts', '{{ commonLabels.scheme }}://grafana.example/d', 'bare URL'],
  ];
  for (const chat of CHAT_SINKS.filter((c) => c.angle))
    it.each(angleCases)(`should refuse a value in %s for ${chat.sink}`, (_, text, construct) => {
      // Act
      const found = problems(chat, text);

      // Assess
      expect(found).toHaveLength(1);
      expect(found[0]).toContain(REASON(construct, chat.format));
    });

  const hidden: [string, string][] = [
    [
      'an if branch on a label value',
      '{% if commonLabels.env == "prod" %}<https://g.example/{{ commonLabels.x }}|D>{% endif %}',
    ],
    [
      'an else branch',
      '{% if status == "firing" %}ok{% else %}<https://g.example/{{ commonLabels.x }}|D>{% endif %}',
    ],
    ['an unless', '{% unless commonLabels.quiet %}<https://g.example/{{ commonLabels.x }}|D>{% endunless %}'],
    [
      'a case',
      '{% case commonLabels.team %}{% when "db" %}<https://g.example/{{ commonLabels.x }}|D>{% endcase %}',
    ],
    [
      'a loop',
      '{% for a in alerts %}<https://g.example/{{ a.labels.instance }}|{{ a.labels.alertname }}>{% endfor %}',
    ],
    ['a loop with else', '{% for a in alerts %}-{% else %}<https://g.example/{{ groupKey }}|D>{% endfor %}'],
    ['an assign', '{% assign host = commonLabels.host %}<https://{{ host }}/d|D>'],
    [
      'a capture written raw',
      '{% capture u %}https://{{ commonLabels.host }}/d{% endcapture %}<{{ u | raw }}|D>',
    ],
    [
      'a link split over outputs',
      '{% for a in alerts %}{% if forloop.first %}<https://g.example/{% endif %}{{ a.labels.i }}{% if forloop.last %}|D>{% endif %}{% endfor %}',
    ],
    ['an echo', '<https://g.example/{% echo commonLabels.x %}|D>'],
  ];
  it.each(hidden)('should find a value in a link inside %s (Slack)', (_, text) => {
    // Act
    const found = problems(CHAT_SINKS[0], text);

    // Assess
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(REASON('<url|text> token', 'mrkdwn'));
  });

  it('should point at the value, not at the link, on a later line', () => {
    // Act
    const error = parseError(
      '# {{ status }}\n\n- [runbook](https://wiki.example/{{ commonLabels.team\n}}/page)',
      markdownFormat,
    );

    // Assess
    expect([error.line, error.column]).toEqual([3, 34]);
  });

  it.each(CHAT_SINKS)(
    'should accept links built with | link and values around the template own links for $sink',
    (chat) => {
      // Act
      const found = problems(
        chat,
        [
          '{{ "https://grafana.example/d/" | append: commonLabels.x | link: commonLabels.alertname }}',
          '{% for a in alerts %}- {{ a.labels.instance }} {{ a.links.graph | link: "graph" }} {{ a.generatorURL }}',
          '{% endfor %}[{{ status | upcase }}] {{ commonLabels.alertname }} on https://grafana.example/d (see {{ externalURL }})',
        ].join('\n'),
      );

      // Assess
      expect(found).toEqual([]);
    },
  );
});

describe('Render: what a value can and cannot do to a link', () => {
  const hostile = { commonLabels: { x: 'foo|Your session expired - click to log in', alertname: 'Disk' } };
  const SOURCE = '{{ "https://grafana.example/d/" | append: commonLabels.x | link: commonLabels.alertname }}';

  it.each<[string, OutputFormat, string]>([
    [
      'mrkdwn',
      mrkdwnFormat,
      '<https://grafana.example/d/foo%7CYour%20session%20expired%20-%20click%20to%20log%20in|Disk>',
    ],
    [
      'googlechat',
      googleChatFormat,
      '<https://grafana.example/d/foo%7CYour%20session%20expired%20-%20click%20to%20log%20in|Disk>',
    ],
    [
      'markdown',
      markdownFormat,
      '[Disk](https://grafana.example/d/foo%7CYour%20session%20expired%20-%20click%20to%20log%20in)',
    ],
    [
      'mattermost',
      mattermostFormat,
      '[Disk](https://grafana.example/d/foo%7CYour%20session%20expired%20-%20click%20to%20log%20in)',
    ],
  ])(
    'should keep the value inside the URL of a | link in %s: it writes no link text',
    (_, format, expected) => {
      // Act
      const out = renderTemplate(compileTemplate(SOURCE, format), hostile);

      // Assess
      expect(out).toBe(expected);
    },
  );

  it('should fail a render whose value reaches a link on a path the probe did not take, and fall back', () => {
    // Prepare: the probe group has two alerts, so a loop from the third renders nothing at validation.
    const destination = {
      name: 'ops',
      sink: 'slack',
      templates: {
        text: '{% for a in alerts offset: 2 %}<https://g.example/{{ a.labels.instance }}|host>{% endfor %}',
      },
    };
    const spec: TemplateSpec = { keys: ['text'], format: 'mrkdwn' };
    const notification = makeNotification({ count: 3 });
    const logger = capturingLogger();

    // Act
    const rendered = renderDestinationTemplates(destination, spec, templateData(notification, destination), {
      logger: logger.logger,
    });

    // Assess
    expect(rendered.values).toEqual({});
    expect(rendered.notes).toEqual([
      mrkdwnFormat.escape(
        `(template "text" failed: line 1, column 51: ${REASON('<url|text> token', 'mrkdwn')}; showing the default)`,
      ),
    ]);
  });

  it('should accept a value that is a whole URL on its own, which shows as itself', () => {
    // Act
    const out = renderTemplate(compileTemplate('Source: {{ a }}', mrkdwnFormat), {
      a: 'https://prometheus.example/graph',
    });

    // Assess
    expect(out).toBe('Source: https://prometheus.example/graph');
  });

  it('should leave the text format alone: it has no links', () => {
    // Act
    const out = renderTemplate(compileTemplate('https://grafana.example/d/{{ x }}', textFormat), {
      x: 'abc',
    });

    // Assess
    expect(out).toBe('https://grafana.example/d/abc');
  });
});

describe('Function: turnedLink', () => {
  it('should not read an escaped bracket as a link', () => {
    // Act
    const turned = turnedLink('\\[a\\](https://x.example) [b]', [{ start: 1, end: 3 }], 'markdown');

    // Assess
    expect(turned).toBeUndefined();
  });

  it('should read a template link whose text a value wrote', () => {
    // Act
    const turned = turnedLink(
      '[ab](https://x.example)',
      [{ start: 1, end: 3, line: 1, column: 2 }],
      'markdown',
    );

    // Assess
    expect(turned).toEqual({ construct: 'Markdown link [text](url)', line: 1, column: 2 });
  });
});

describe('Limits: every way of building a string counts', () => {
  const doubling: [string, string][] = [
    [
      'capture, written raw',
      '{% capture s %}ab{% endcapture %}{% for i in (1..40) %}{% capture s %}{{ s | raw }}{{ s | raw }}{% endcapture %}{% endfor %}{{ s | size }}',
    ],
    [
      'capture, escaped',
      '{% capture s %}ab{% endcapture %}{% for i in (1..40) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s | size }}',
    ],
    [
      'assign with append',
      '{% assign s = "ab" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}',
    ],
    [
      'prepend',
      '{% assign s = "ab" %}{% for i in (1..40) %}{% assign s = s | prepend: s %}{% endfor %}{{ s | size }}',
    ],
    [
      'replace',
      '{% assign s = "ab" %}{% for i in (1..40) %}{% assign s = s | replace: "a", "aa" %}{% endfor %}{{ s | size }}',
    ],
    [
      'title_case of a growing capture',
      '{% capture s %}ab{% endcapture %}{% for i in (1..40) %}{% capture s %}{{ s | title_case | raw }}{{ s | raw }}{% endcapture %}{% endfor %}',
    ],
  ];
  it.each(doubling)('should stop a string doubled by %s at the memory limit, naming it', (_, source) => {
    // Prepare
    const compiled = compileTemplate(source, textFormat);

    // Act
    const act = () => renderTemplate(compiled, {});

    // Assess
    expect(act).toThrow(TemplateRenderError);
    expect(act).toThrow(/: memory alloc limit exceeded$/);
  });

  it('should stop a loop writing the output as soon as it passes the output limit', () => {
    // Prepare: 10 characters a turn, far fewer turns than the range: the output limit, not the time limit.
    const compiled = compileTemplate('{% for i in (1..1000000) %}0123456789{% endfor %}', textFormat);

    // Act
    const act = () => renderTemplate(compiled, {});

    // Assess
    expect(act).toThrow(`line 1, column 28: the output is over ${TEMPLATE_LIMITS.outputChars} characters`);
  });

  it('should count a capture as memory even when it is never written', () => {
    // Prepare: 60,000 characters captured 100 times: 6,000,000 units, over the limit; the output is empty.
    const compiled = compileTemplate(
      '{% for i in (1..100) %}{% capture s %}{{ big | raw }}{% endcapture %}{% endfor %}',
      textFormat,
    );

    // Act
    const act = () => renderTemplate(compiled, { big: 'x'.repeat(60_000) });

    // Assess
    expect(act).toThrow(/memory alloc limit exceeded/);
  });

  it('should give each render of shared, frozen data its own counters', () => {
    // Prepare
    const compiled = compileTemplate('{% increment n %}{% increment n %}', textFormat);
    const data = Object.freeze({ status: 'firing' });

    // Act
    const outputs = [renderTemplate(compiled, data), renderTemplate(compiled, data)];

    // Assess
    expect(outputs).toEqual(['01', '01']);
  });
});

function parseError(source: string, format: OutputFormat): TemplateParseError {
  try {
    compileTemplate(source, format);
  } catch (error) {
    if (error instanceof TemplateParseError) return error;
    throw error;
  }
  throw new Error('expected a parse error');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
