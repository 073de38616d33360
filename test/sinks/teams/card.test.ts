import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runbookUrl, silenceUrl } from '../../../lib/alertmanager/links.ts';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { markdown } from '../../../lib/format/markdown.ts';
import { buildTeamsMessages, type CardOptions, teamsText } from '../../../lib/sinks/teams/card.ts';
import {
  teamsMessageBytes as messageBytes,
  TEAMS_CARD_BUDGET_BYTES,
  TEAMS_MESSAGE_LIMIT_BYTES,
} from '../../../lib/sinks/teams/limits.ts';
import {
  HOSTILE,
  hostileNotification,
  jsonStrings,
  markdownViolations,
  plainTextViolations,
} from '../../support/conformance/hostile.ts';
import { adaptiveCardProblems, teamsRunFailure } from '../../support/fake-teams.ts';
import { makeNotification } from '../../support/notifications.ts';

const links = { silenceUrl, runbookUrl };

function notification(count: number, status: Notification['status'] = 'firing'): Notification {
  const n = makeNotification({ count, status });
  n.commonLabels = { alertname: 'HighLatency', severity: 'critical' };
  n.commonAnnotations = { summary: 'Latency is high', runbook_url: 'https://runbooks.example/latency' };
  return n;
}

type Message = ReturnType<typeof buildTeamsMessages>[number];
type Element = Message['attachments'][number]['content']['body'][number];

const contentOf = (message: Message) => message.attachments[0].content;

/** Every element of a card, containers' items included. */
function elementsOf(message: Message): Element[] {
  const all: Element[] = [];
  const visit = (elements: Element[]) => {
    for (const element of elements) {
      all.push(element);
      if (Array.isArray(element.items)) visit(element.items as Element[]);
    }
  };
  visit(contentOf(message).body);
  return all;
}

const textsOf = (message: Message): string[] =>
  elementsOf(message)
    .filter((e) => e.type === 'TextBlock')
    .map((e) => e.text as string);

const factsOf = (messages: Message[]): { title: string; value: string }[] =>
  messages.flatMap((m) =>
    elementsOf(m)
      .filter((e) => e.type === 'FactSet')
      .flatMap((e) => e.facts as { title: string; value: string }[]),
  );

const alertLinesOf = (messages: Message[]): string[] =>
  messages.flatMap((m) => textsOf(m).filter((t) => t.startsWith('🔴') || t.startsWith('🟢')));

/** `count` labels of `chars` characters each, half of them escaped as Markdown: label_00 = "00-v.v.v.…". */
function bigLabels(count: number, chars: number): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => {
      const n = String(i).padStart(2, '0');
      return [`label_${n}`, `${n}-`.padEnd(chars, 'v.')];
    }),
  );
}

/** Each message within the relay's budget and Teams' limit, and a run Teams would post. */
function expectPostable(messages: Message[]): void {
  for (const message of messages) {
    const bytes = messageBytes(message);
    expect(bytes).toBeLessThanOrEqual(TEAMS_CARD_BUDGET_BYTES);
    expect(bytes).toBeLessThanOrEqual(TEAMS_MESSAGE_LIMIT_BYTES);
    expect(teamsRunFailure(message, bytes)).toBeUndefined();
    expect(adaptiveCardProblems(contentOf(message))).toEqual([]);
    for (const text of textsOf(message)) expect(text.trim()).not.toBe('');
  }
}

/** The labels as facts, escaped as the card shows them, sorted by name. */
const expectedFacts = (labels: Record<string, string>) =>
  Object.keys(labels)
    .sort()
    .map((name) => ({ title: markdown(name), value: markdown(labels[name]) }));

describe('Function: buildTeamsMessages', () => {
  it('should build one Adaptive Card 1.4 message with the status colour, the shared labels as facts, a line per alert and the buttons', () => {
    // Act
    const [message, ...rest] = buildTeamsMessages(notification(2), { links });

    // Assess
    expect(rest).toEqual([]);
    expect(message.type).toBe('message');
    expect(message.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = contentOf(message);
    expect(card.version).toBe('1.4');
    expect(card.body[0]).toMatchObject({ type: 'Container', style: 'attention' });
    expect(card.body).toContainEqual({
      type: 'FactSet',
      facts: [
        { title: 'alertname', value: 'HighLatency' },
        { title: 'severity', value: 'critical' },
      ],
    });
    const lines = card.body.filter((e) => typeof e.text === 'string' && (e.text as string).startsWith('🔴'));
    expect(lines).toHaveLength(2);
    expect(lines[0].text).toContain('[graph](http://prometheus:9090/graph?g0.expr=latency+%3E+1&g0.tab=1)');
    expect(card.actions?.map((a) => a.title)).toEqual(['Graph', 'Runbook', 'Silence']);
    expect(teamsRunFailure(message, messageBytes(message))).toBeUndefined();
  });

  it('should make a resolved card green, without a silence button', () => {
    // Act
    const [message] = buildTeamsMessages(notification(1, 'resolved'), { links });

    // Assess
    const card = contentOf(message);
    expect(card.body[0]).toMatchObject({ style: 'good' });
    expect(card.actions?.map((a) => a.title)).toEqual(['Graph', 'Runbook']);
  });

  it('should split a large group into cards within the byte budget, compact, every alert once', () => {
    // Act
    const messages = buildTeamsMessages(notification(300), { links, maxBytes: 8000 });

    // Assess
    expect(messages.length).toBeGreaterThan(2);
    for (const message of messages) expect(messageBytes(message)).toBeLessThanOrEqual(8000);
    const lines = messages.flatMap((m) =>
      contentOf(m).body.filter((e) => typeof e.text === 'string' && (e.text as string).startsWith('🔴')),
    );
    expect(lines).toHaveLength(300);
    expect(lines.some((l) => (l.text as string).includes('Latency high on'))).toBe(false);
    expect(JSON.stringify(contentOf(messages[0]).body)).toContain(
      `continue in ${messages.length - 1} more cards`,
    );
  });

  it('should keep only http(s) URLs for buttons and links', () => {
    // Prepare
    const n = notification(2);
    n.alerts[0].generatorURL = 'javascript:alert(1)';
    n.alerts[1].generatorURL = 'javascript:alert(2)';
    n.commonAnnotations.runbook_url = 'data:text/html,hi';

    // Act
    const [message] = buildTeamsMessages(n, { links });

    // Assess
    expect(JSON.stringify(message)).not.toContain('javascript:');
    expect(JSON.stringify(message)).not.toContain('data:text');
    expect(contentOf(message).actions?.map((a) => a.title)).toEqual(['Silence']);
  });
});

describe('Function: buildTeamsMessages (Teams limits)', () => {
  it('should split 60 labels of 300 characters over cards within the limit, every label whole in one of them', () => {
    // Prepare: a 35,475-byte single card before the facts were measured.
    const n = notification(2);
    n.commonLabels = { alertname: 'HighLatency', ...bigLabels(60, 300) };

    // Act
    const messages = buildTeamsMessages(n, { links });

    // Assess
    expect(messages.length).toBeGreaterThan(1);
    expectPostable(messages);
    expect(factsOf(messages)).toEqual(expectedFacts(n.commonLabels));
    expect(alertLinesOf(messages)).toHaveLength(2);
    expect(textsOf(messages[0])).toContainEqual(
      expect.stringMatching(
        new RegExp(`^\\d+ more labels and 2 more alerts continue in ${messages.length - 1} more cards?\\.$`),
      ),
    );
    for (const [i, message] of messages.slice(1).entries())
      expect(textsOf(message)[0]).toMatch(
        new RegExp(
          `^🔥 HighLatency: labels \\d+-\\d+ of 61.* \\(continued, card ${i + 2} of ${messages.length}\\)$`,
        ),
      );
    // Only the first card has the buttons and the summary.
    expect(messages.slice(1).every((m) => contentOf(m).actions === undefined)).toBe(true);
    expect(messages.slice(1).flatMap(textsOf)).not.toContain('**Latency is high**');
  });

  it('should deliver a 300-alert group with 60 long labels whole: every label and every alert once, each card within the limit', () => {
    // Prepare
    const labels = { alertname: 'HighLatency', ...bigLabels(60, 300) };
    const n = makeNotification({ count: 300, labels: () => labels });
    n.commonLabels = labels;

    // Act
    const messages = buildTeamsMessages(n, { links });

    // Assess
    expectPostable(messages);
    expect(factsOf(messages)).toEqual(expectedFacts(labels));
    const lines = alertLinesOf(messages);
    expect(lines).toHaveLength(300);
    for (let i = 0; i < 300; i++)
      expect(lines.filter((l) => l.includes(`${markdown(`instance=web-${i}:9100`)}, `))).toHaveLength(1);
    const last = textsOf(messages[messages.length - 1])[0];
    expect(last).toMatch(
      new RegExp(`alerts \\d+-300 of 300 \\(continued, card ${messages.length} of ${messages.length}\\)$`),
    );
  });

  it('should keep a long label value whole when it fits a card of its own', () => {
    // Prepare
    const n = notification(1);
    n.commonLabels = { ...n.commonLabels, query: `${'sum by (job) (rate(x[5m])) '.repeat(180)}end` };

    // Act
    const messages = buildTeamsMessages(n, { links });

    // Assess
    expectPostable(messages);
    expect(factsOf(messages)).toEqual(expectedFacts(n.commonLabels));
  });

  it('should cut a label value too long for any card per field, at a code point, and keep the rest of the card', () => {
    // Prepare: 30,000 astral characters (120,000 bytes), with markup to escape.
    const huge = `[x](https://evil.example) ${'🙂*'.repeat(15_000)}`;
    const n = notification(2);
    n.commonLabels = { ...n.commonLabels, huge, zone: 'eu-1' };

    // Act
    const messages = buildTeamsMessages(n, { links });

    // Assess
    expectPostable(messages);
    const facts = factsOf(messages);
    expect(facts.map((f) => f.title)).toEqual(['alertname', 'huge', 'severity', 'zone']);
    const cut = facts[1].value;
    expect(cut.endsWith('…')).toBe(true);
    expect(cut.startsWith(markdown('[x](https://evil.example) 🙂*'))).toBe(true);
    expect(Array.from(cut).length).toBeGreaterThan(2000);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    // Cut before escaping: no escape is split, so no lone backslash before the ellipsis.
    expect(cut).not.toMatch(/(^|[^\\])(\\\\)*\\…$/);
    expect(facts[3]).toEqual({ title: 'zone', value: 'eu\\-1' });
    expect(alertLinesOf(messages)).toHaveLength(2);
  });

  it.each([
    { what: 'empty', title: '', text: '' },
    { what: 'whitespace', title: '  \n\t ', text: ' \n \n ' },
  ])('should show the default heading and text when the templates render $what', ({ title, text }) => {
    // Prepare
    const n = notification(2);
    n.commonAnnotations.description = '\u001b\u0007\u200e';

    // Act
    const messages = buildTeamsMessages(n, { links, templated: { title, text } });

    // Assess
    expectPostable(messages);
    expect(messages).toHaveLength(1);
    const texts = textsOf(messages[0]);
    expect(texts[0]).toBe('🔥 \\[FIRING:2\\] HighLatency');
    expect(texts[1]).toBe('**Latency is high**');
    expect(alertLinesOf(messages)).toHaveLength(2);
  });

  it('should keep a templated text beside the facts that flow into further cards', () => {
    // Prepare
    const n = notification(2);
    n.commonLabels = { alertname: 'HighLatency', ...bigLabels(60, 300) };

    // Act
    const messages = buildTeamsMessages(n, {
      links,
      templated: { title: 'Latency', text: 'x'.repeat(20_000) },
    });

    // Assess
    expectPostable(messages);
    expect(
      textsOf(messages[0])
        .slice(0, 2)
        .map((t) => t.slice(0, 8)),
    ).toEqual(['Latency', 'xxxxxxxx']);
    expect(factsOf(messages)).toEqual(expectedFacts(n.commonLabels));
  });

  it('should escape hostile labels and alerts in every card of a split group', () => {
    // Prepare: hostile text in 60 labels and 300 alerts.
    const n = hostileNotification();
    const hostileLabels = Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [`team_${i}`, `${HOSTILE} ${i}`]),
    );
    n.commonLabels = { ...n.commonLabels, ...hostileLabels };
    n.alerts = Array.from({ length: 300 }, (_, i) => ({
      ...n.alerts[0],
      labels: { ...n.alerts[0].labels, ...hostileLabels, pod: `${HOSTILE} ${i}` },
      fingerprint: `h${i}`,
    }));

    // Act
    const messages = buildTeamsMessages(n, { links });

    // Assess
    expect(messages.length).toBeGreaterThan(2);
    expectPostable(messages);
    for (const message of messages) {
      const texts = jsonStrings(contentOf(message).body).filter((t) => !/^https?:\/\//.test(t));
      expect(texts.flatMap((t) => markdownViolations(t))).toEqual([]);
      expect(jsonStrings(message).flatMap(plainTextViolations)).toEqual([]);
      const joined = texts.join('\n');
      expect(joined).not.toMatch(/(^|[^\\])\]\(https:\/\/evil/);
      expect(joined).not.toContain('@here');
    }
    expect(factsOf(messages)).toHaveLength(Object.keys(n.commonLabels).length);
    expect(alertLinesOf(messages)).toHaveLength(300);
  });
});

describe("Function: buildTeamsMessages (Microsoft's Adaptive Cards parser)", () => {
  const cases: { what: string; notification: () => Notification; options?: Partial<CardOptions> }[] = [
    { what: 'a small firing group', notification: () => notification(2) },
    { what: 'a resolved group', notification: () => notification(3, 'resolved') },
    { what: 'hostile content', notification: () => hostileNotification() },
    {
      what: 'hostile content, resolved, in a part with alerts left out',
      notification: () => hostileNotification('resolved'),
      options: { part: { index: 2, count: 3 } },
    },
    {
      what: '60 labels of 300 characters',
      notification: () => {
        const n = notification(2);
        n.commonLabels = bigLabels(60, 300);
        return n;
      },
    },
    { what: '600 alerts', notification: () => notification(600) },
    {
      what: 'a label longer than the limit',
      notification: () => {
        const n = notification(1);
        n.commonLabels.huge = 'é'.repeat(40_000);
        return n;
      },
    },
    { what: 'no labels and no annotations', notification: () => makeNotification({ count: 1 }) },
    {
      what: 'empty templates',
      notification: () => notification(2),
      options: { templated: { title: '', text: '' } },
    },
    {
      what: 'whitespace templates and a note',
      notification: () => notification(2),
      options: { templated: { title: ' ', text: '\n', notes: ['(template "text" failed)'] } },
    },
    {
      what: 'a huge templated text',
      notification: () => notification(40),
      options: { templated: { title: 'T', text: '**x** '.repeat(10_000) } },
    },
  ];

  it.each(cases)('should give cards the library parses and validates without a problem: $what', (c) => {
    // Act
    const messages = buildTeamsMessages(c.notification(), { links, ...c.options });

    // Assess
    expectPostable(messages);
  });

  it('should give postable cards holding every label for any labels, alerts and templates', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.stringMatching(/^[a-z_][a-z0-9_]{0,30}$/),
          fc.string({ unit: 'binary', maxLength: 3000 }),
          {
            maxKeys: 40,
          },
        ),
        fc.integer({ min: 1, max: 60 }),
        fc.option(fc.constantFrom('', ' ', '\n\t', 'Title'), { nil: undefined }),
        fc.option(fc.constantFrom('', '  ', 'Body **x**'), { nil: undefined }),
        (labels, count, title, text) => {
          const n = notification(count);
          n.commonLabels = labels;
          const messages = buildTeamsMessages(n, { links, templated: { title, text } });
          expectPostable(messages);
          expect(factsOf(messages).map((f) => f.title)).toEqual(Object.keys(labels).sort().map(markdown));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('Function: teamsText', () => {
  it('should escape markdown, drop control and bidi characters and break mentions', () => {
    // Act
    const text = teamsText('[x](https://e.example) @here \u202e\u001b[31m', 100);

    // Assess
    expect(text).toBe('\\[x\\]\\(https:\u200b//e\\.example\\) @\u200bhere ');
  });
});
