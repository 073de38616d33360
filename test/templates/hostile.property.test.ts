import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import type { DestinationConfig } from '../../lib/config/types.ts';
import { DeferredError } from '../../lib/delivery/errors.ts';
import type { Sink } from '../../lib/delivery/sink.ts';
import { vendorAnswer } from '../../lib/ops/preview.ts';
import { createDiscordSink } from '../../lib/sinks/discord/discord.ts';
import { createGoogleChatSink } from '../../lib/sinks/googlechat/googlechat.ts';
import { createOpsgenieSink } from '../../lib/sinks/opsgenie/opsgenie.ts';
import { createTeamsSink } from '../../lib/sinks/teams/teams.ts';
import { HOSTILE_TEXT } from '../support/conformance.ts';
import { discordBodyViolation } from '../support/fake-discord.ts';
import { teamsRunFailure } from '../support/fake-teams.ts';
import { makeNotification } from '../support/notifications.ts';
import { memoryState, vendorDelivery } from '../support/vendor-delivery.ts';

/**
 * Any label and annotation content, through templates that use every kind of value and
 * filter (no `raw`), gives no markup, link or mention from alert content at any of the four
 * templated sinks, and no exception out of the sink but a wait for the channel's pace.
 */

const TITLE =
  '{{ status | upcase }} {{ commonLabels.alertname }} {{ groupLabels | label_values | join: " " }}';
const TEXT = [
  '{% for a in alerts %}- **{{ a.labels.alertname | truncate_chars: 40 }}** {{ a.labels | without: "alertname" | join_labels }}',
  ' {{ a.annotations.summary | title_case }} ({{ a.startsAt | since }}) {{ a.links.graph | link: "graph" }}',
  ' {{ a.links.silence | link: "silence" }} {{ a.annotations | sorted_pairs | map: "value" | join: " / " }}',
  ' {{ a.annotations | json }} {% echo a.labels.team %} {{ a.generatorURL }}\n{% endfor %}',
  '{{ commonAnnotations.description | downcase }} {{ externalURL }} {{ receiver }} {{ groupKey }}',
].join('');

const hostileFragment = fc.oneof(
  fc.constantFrom(...Object.values(HOSTILE_TEXT)),
  fc.constantFrom(
    '@everyone',
    '<users/all>',
    '<!here>',
    '[x](https://evil.example)',
    '<https://evil.example>',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const hostileText = fc.array(hostileFragment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(' '));

function hostileNotification(values: string[]): Notification {
  const notification = makeNotification({ count: 2, labels: (i) => ({ team: values[i % values.length] }) });
  notification.alerts.forEach((alert, i) => {
    alert.labels.alertname = `Disk ${values[(i + 1) % values.length]}`;
    alert.annotations = { summary: values[(i + 2) % values.length], other: values[(i + 3) % values.length] };
  });
  notification.commonLabels = { severity: 'critical' };
  notification.commonAnnotations = { description: values[0] };
  notification.receiver = `relay ${values[1 % values.length]}`;
  return notification;
}

// Terminal escapes (ESC, CSI), the RLO override and an isolate: none may survive.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is checked
const INVISIBLE = /[\u001b\u009b\u202e\u2066]/;

const OWN_HOSTS = /^(http:\/\/prometheus:9090\/|http:\/\/alertmanager:9093\/)/;

/** Every string of a JSON body. */
function strings(body: unknown): string[] {
  const found: string[] = [];
  JSON.stringify(body, (_, value) => {
    if (typeof value === 'string') found.push(value);
    return value;
  });
  return found;
}

function assertNoMention(text: string) {
  for (const match of text.matchAll(/(^|[^\p{L}\p{N}_.+-])@(?=[\p{L}\p{N}_!-])/gu)) {
    throw new Error(
      `a mention at ${match.index}: ${JSON.stringify(text.slice(match.index, match.index + 20))}`,
    );
  }
}

function assertMarkdownInert(text: string) {
  expect(text).not.toMatch(INVISIBLE);
  // Every unescaped link target is one of the relay's own links.
  for (const match of text.matchAll(/(^|[^\\])\]\(([^)]*)\)/g)) expect(match[2]).toMatch(OWN_HOSTS);
  expect(text).not.toMatch(/(^|[^\\])<https?:/);
  assertNoMention(text);
}

interface Case {
  name: string;
  /** `now`: the test's clock, for the chat sinks' pacing. */
  sink: (fetch: typeof globalThis.fetch, now: () => number) => Sink;
  destination: DestinationConfig;
  secrets: Record<string, string>;
  check: (body: unknown, bytes: number) => void;
}

const cases: Case[] = [
  {
    name: 'teams',
    sink: (fetch, now) => createTeamsSink({ fetch, now }) as unknown as Sink,
    destination: {
      name: 't',
      sink: 'teams',
      webhookUrlSecret: 'URL',
      templates: { title: TITLE, text: TEXT },
    },
    secrets: { URL: 'https://teams.invalid/workflows/x/triggers/manual/paths/invoke?sig=s' },
    check: (body, bytes) => {
      expect(teamsRunFailure(body, bytes)).toBeUndefined();
      for (const text of strings(body)) if (!/^https?:\/\//.test(text)) assertMarkdownInert(text);
    },
  },
  {
    name: 'discord',
    sink: (fetch, now) => createDiscordSink({ fetch, now }) as unknown as Sink,
    destination: {
      name: 'd',
      sink: 'discord',
      webhookUrlSecret: 'URL',
      templates: { title: TITLE, text: TEXT },
    },
    secrets: { URL: 'https://discord.invalid/api/webhooks/1/token' },
    check: (body) => {
      expect(discordBodyViolation(body)).toBeUndefined();
      for (const text of strings(body)) assertMarkdownInert(text);
    },
  },
  {
    name: 'googlechat',
    sink: (fetch, now) => createGoogleChatSink({ fetch, now }) as unknown as Sink,
    destination: {
      name: 'g',
      sink: 'googlechat',
      webhookUrlSecret: 'URL',
      templates: { title: TITLE, text: TEXT },
    },
    secrets: { URL: 'https://chat.invalid/v1/spaces/S/messages?key=k&token=t' },
    check: (body) => {
      const text = (body as { text: string }).text;
      // Chat's only markup with a target is <url|label>: each one is the relay's own link.
      for (const match of text.matchAll(/<([^>]*)>/g)) expect(match[1]).toMatch(OWN_HOSTS);
      expect(text).not.toMatch(/https?:\/\/evil/);
      expect(text).not.toMatch(INVISIBLE);
      assertNoMention(text);
    },
  },
  {
    name: 'opsgenie',
    sink: (fetch) => createOpsgenieSink({ fetch }) as unknown as Sink,
    destination: {
      name: 'o',
      sink: 'opsgenie',
      apiKeySecret: 'KEY',
      templates: { summary: TITLE, description: TEXT },
    },
    secrets: { KEY: 'k' },
    check: (body) => {
      const { message, description } = body as { message: string; description: string };
      for (const field of [message, description]) {
        expect(field).not.toMatch(/[<>]/);
        expect(field).not.toMatch(INVISIBLE);
      }
    },
  },
];

describe('Property: hostile alert content through templates', () => {
  it.each(cases)(
    'should give $name no markup, link or mention from alert content, and never fail (it may only wait for its pace)',
    async (c) => {
      await fc.assert(
        fc.asyncProperty(fc.array(hostileText, { minLength: 1, maxLength: 4 }), async (values) => {
          // Prepare
          const bodies: { body: unknown; bytes: number }[] = [];
          const fetch: typeof globalThis.fetch = async (input, init) => {
            const text = String(init?.body ?? '');
            bodies.push({ body: JSON.parse(text), bytes: Buffer.byteLength(text) });
            const answer = vendorAnswer(c.destination.sink, new URL(String(input)));
            return new Response(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body), {
              status: answer.status,
            });
          };
          const delivery = vendorDelivery(c.destination, hostileNotification(values), {
            state: memoryState(),
            secrets: c.secrets,
          });

          const clock = { now: Date.UTC(2026, 10, 21, 12, 0, 0) };
          const sink = c.sink(fetch, () => clock.now);

          // Act: a message split past the channel's burst waits for its pace (a DeferredError);
          // as the queue would, the same delivery comes back when the deferral says.
          for (let receive = 1; ; receive++) {
            try {
              await sink.deliver(delivery);
              break;
            } catch (error) {
              if (!(error instanceof DeferredError) || receive >= 50) throw error;
              clock.now += error.retryAfterSeconds * 1000;
            }
          }

          // Assess
          expect(bodies.length).toBeGreaterThan(0);
          for (const { body, bytes } of bodies) c.check(body, bytes);
        }),
        { numRuns: 60 },
      );
    },
  );
});
