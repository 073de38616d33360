import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import {
  createMattermostSink,
  type MattermostDestination,
} from '../../../lib/sinks/mattermost/mattermost.ts';
import { HOSTILE_TEXT } from '../../support/conformance.ts';
import { mattermostPropsViolation } from '../../support/fake-mattermost.ts';
import { makeNotification } from '../../support/notifications.ts';
import { memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';
import { mattermostViolations, postTexts } from './inert.ts';

/**
 * Any label and annotation content, with and without templates that use every kind of value,
 * gives no markup, link, mention, channel link or hashtag from alert content in a Mattermost
 * post, and no exception out of the sink.
 */

const TITLE =
  '{{ status | upcase }} {{ commonLabels.alertname }} {{ groupLabels | label_values | join: " " }}';
const TEXT = [
  '{% for a in alerts %}- **{{ a.labels.alertname | truncate_chars: 40 }}** {{ a.labels | without: "alertname" | join_labels }}',
  ' {{ a.annotations.summary | title_case }} {{ a.links.graph | link: "graph" }} {{ a.generatorURL }}\n{% endfor %}',
  '{{ commonAnnotations.description | downcase }} {{ externalURL }} {{ receiver }}',
].join('');

const fragment = fc.oneof(
  fc.constantFrom(...Object.values(HOSTILE_TEXT)),
  fc.constantFrom(
    '@all',
    '.@here',
    '-@channel',
    '~town-square',
    '#incident',
    'mailto:x@evil.example',
    'tel:+1555',
  ),
  fc.constantFrom(
    'www.evil.example',
    '![i](https://evil.example/i.png)',
    '<https://evil.example>',
    '\n# h\n',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const hostileText = fc.array(fragment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(' '));

function hostileNotification(values: string[]): Notification {
  const n = makeNotification({ count: 2, labels: (i) => ({ team: values[i % values.length] }) });
  n.alerts.forEach((alert, i) => {
    alert.labels.alertname = `Disk ${values[(i + 1) % values.length]}`;
    alert.annotations = { summary: values[(i + 2) % values.length] };
  });
  n.commonLabels = { severity: 'critical', team: values[0] };
  n.commonAnnotations = { description: values[0], summary: values[1 % values.length] };
  n.receiver = `relay ${values[1 % values.length]}`;
  return n;
}

describe('Property: hostile alert content in a Mattermost post', () => {
  it.each([
    { name: 'the default rendering', templates: undefined },
    { name: 'templates', templates: { title: TITLE, text: TEXT } },
  ])(
    'should give no markup, link or mention from alert content with $name, and never throw',
    async ({ templates }) => {
      await fc.assert(
        fc.asyncProperty(fc.array(hostileText, { minLength: 1, maxLength: 4 }), async (values) => {
          // Prepare
          const bodies: unknown[] = [];
          const fetch: typeof globalThis.fetch = async (_input, init) => {
            bodies.push(JSON.parse(String(init?.body)));
            return new Response(JSON.stringify({ id: 'p'.repeat(26) }), { status: 201 });
          };
          const destination: MattermostDestination = {
            name: 'm',
            sink: 'mattermost',
            baseUrl: 'https://mattermost.invalid',
            tokenSecret: 'TOKEN',
            channelId: 'c'.repeat(26),
            ...(templates ? { templates } : {}),
          };
          const delivery = vendorDelivery(destination, hostileNotification(values), {
            state: memoryState(),
            secrets: { TOKEN: 'token' },
          });

          // Act
          await createMattermostSink({ fetch }).deliver(delivery);

          // Assess
          expect(bodies.length).toBeGreaterThan(0);
          for (const body of bodies) {
            expect(mattermostPropsViolation((body as { props: unknown }).props)).toBeUndefined();
            const [message, ...attachments] = postTexts(body);
            // A templated title is the template's own heading line: only what follows it is checked as such.
            const checked = templates ? message.replace(/^#### /, '') : message;
            for (const text of [checked, ...attachments]) expect(mattermostViolations(text)).toEqual([]);
          }
        }),
        { numRuns: 60 },
      );
    },
  );
});
