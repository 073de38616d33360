import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { subject } from '../../lib/alertmanager/title.ts';
import { templateData } from '../../lib/templates/data.ts';
import { compileTemplate, renderTemplate } from '../../lib/templates/engine.ts';
import { markdownFormat, mrkdwnFormat, textFormat } from '../../lib/templates/formats.ts';
import { makeNotification, referencePayload } from '../support/notifications.ts';

/**
 * The Alertmanager default templates of docs/templates.md, on the relay's side: what they
 * render here is written out. That it is what Alertmanager itself writes is checked against
 * Alertmanager's own engine (`amtool template render`) in
 * test/e2e/alertmanager-templates.e2e.test.ts, which needs Debian's prometheus-alertmanager.
 */

/** The Liquid block after `<!-- template: name -->` in docs/templates.md, without its last newline. */
function documented(name: string): string {
  const page = readFileSync(new URL('../../docs/templates.md', import.meta.url), 'utf8');
  const found = new RegExp(`<!-- template: ${name} -->\\n\`\`\`liquid\\n([\\s\\S]*?)\\n\`\`\``).exec(page);
  if (!found) throw new Error(`docs/templates.md has no template block "${name}"`);
  return found[1];
}

/** A firing group by alertname and Team, one alert firing and one resolved. */
function teamGroup() {
  const notification = makeNotification({ count: 2, labels: () => ({ Team: 'core' }) });
  notification.alerts[1] = {
    ...notification.alerts[1],
    status: 'resolved',
    labels: { alertname: 'HighLatency', Team: 'core' },
    annotations: {},
    generatorURL: 'http://prom/g2',
  };
  notification.alerts[0] = {
    ...notification.alerts[0],
    labels: { instance: 'web-0:9100', Team: 'core', alertname: 'HighLatency' },
    annotations: { summary: 'p99 > 1s' },
    generatorURL: 'http://prom/graph',
  };
  notification.groupLabels = { alertname: 'HighLatency', Team: 'core' };
  notification.commonLabels = { alertname: 'HighLatency', Team: 'core' };
  return notification;
}

describe('Docs: Alertmanager default templates in docs/templates.md', () => {
  it('should render the subject of the captured firing notification', () => {
    // Prepare
    const compiled = compileTemplate(documented('subject'), mrkdwnFormat);

    // Act
    const title = renderTemplate(
      compiled,
      templateData(referencePayload('am-0.25-firing.json'), { name: 'ops', sink: 'slack' }),
    );

    // Assess
    expect(title).toBe('[FIRING:1] RelayE2ESwitchOn (127.0.0.1:33323 e2e-switch critical)');
  });

  it('should write alertname before an upper-case group label, with the trailing space Alertmanager leaves', () => {
    // Prepare
    const compiled = compileTemplate(documented('subject'), textFormat);

    // Act
    const title = renderTemplate(compiled, templateData(teamGroup(), { name: 'ops', sink: 'slack' }));

    // Assess
    expect(title).toBe('[FIRING:1] HighLatency core ');
  });

  it.each(['am-0.25-firing.json', 'am-0.25-prom-group-some-resolved.json', 'am-0.25-resolved.json'])(
    'should render the subject of %s as subject() in lib/alertmanager/title.ts writes it',
    (name) => {
      // Prepare
      const notification = referencePayload(name);
      const compiled = compileTemplate(documented('subject'), textFormat);

      // Act
      const title = renderTemplate(compiled, templateData(notification, { name: 'ops', sink: 'slack' }));

      // Assess
      expect(title).toBe(subject(notification));
    },
  );

  it("should render the Teams text with labels in Alertmanager's order and each value Markdown-escaped", () => {
    // Prepare
    const compiled = compileTemplate(documented('teams-text'), markdownFormat);

    // Act
    const text = renderTemplate(compiled, templateData(teamGroup(), { name: 'ops', sink: 'teams' }));

    // Assess
    expect(text).toBe(
      [
        '',
        '',
        '# Alerts Firing:',
        '',
        'Labels:',
        '  - alertname = HighLatency',
        '  - Team = core',
        '  - instance = web\\-0:9100',
        '',
        'Annotations:',
        '  - summary = p99 \\> 1s',
        '',
        'Source: http:\u200b//prom/graph',
        '',
        '',
        '',
        '',
        '# Alerts Resolved:',
        '',
        'Labels:',
        '  - alertname = HighLatency',
        '  - Team = core',
        '',
        'Annotations:',
        '',
        'Source: http:\u200b//prom/g2',
        '',
        '',
        '',
        '',
      ].join('\n'),
    );
  });
});
