import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Alert, Notification } from '../../lib/alertmanager/types.ts';
import { markdown } from '../../lib/format/markdown.ts';
import { templateData } from '../../lib/templates/data.ts';
import { compileTemplate, renderTemplate } from '../../lib/templates/engine.ts';
import { markdownFormat, mrkdwnFormat } from '../../lib/templates/formats.ts';
import { referencePayload } from '../support/notifications.ts';

/** The Liquid block after `<!-- template: name -->` in docs/templates.md, without its last newline. */
function documented(name: string): string {
  const page = readFileSync(new URL('../../docs/templates.md', import.meta.url), 'utf8');
  const found = new RegExp(`<!-- template: ${name} -->\\n\`\`\`liquid\\n([\\s\\S]*?)\\n\`\`\``).exec(page);
  if (!found) throw new Error(`docs/templates.md has no template block "${name}"`);
  return found[1];
}

const sortedPairs = (map: Record<string, string>) =>
  Object.keys(map)
    .sort()
    .map((name) => [name, map[name]] as const);

// Alertmanager 0.25's default.tmpl, executed by hand: __subject.
function goSubject(n: Notification): string {
  const firing = n.alerts.filter((a) => a.status === 'firing').length;
  const status = `${n.status.toUpperCase()}${n.status === 'firing' ? `:${firing}` : ''}`;
  const group = sortedPairs(n.groupLabels).map(([, v]) => v);
  const extra = sortedPairs(n.commonLabels)
    .filter(([name]) => !(name in n.groupLabels))
    .map(([, v]) => v);
  const more = Object.keys(n.commonLabels).length > Object.keys(n.groupLabels).length;
  return `[${status}] ${group.join(' ')} ${more ? `(${extra.join(' ')})` : ''}`;
}

// msteams.default.text and __text_alert_list_markdown, each value through `esc`.
function goTeamsText(n: Notification, esc: (value: string) => string): string {
  const list = (alerts: Alert[]) =>
    `${alerts
      .map((a) => {
        const pairs = (map: Record<string, string>) =>
          sortedPairs(map)
            .map(([k, v]) => `  - ${esc(k)} = ${esc(v)}\n`)
            .join('');
        return `\nLabels:\n${pairs(a.labels)}\nAnnotations:\n${pairs(a.annotations)}\nSource: ${esc(a.generatorURL)}\n`;
      })
      .join('')}\n`;
  const firing = n.alerts.filter((a) => a.status === 'firing');
  const resolved = n.alerts.filter((a) => a.status === 'resolved');
  return `\n${firing.length > 0 ? `\n# Alerts Firing:\n${list(firing)}\n` : ''}\n${resolved.length > 0 ? `\n# Alerts Resolved:\n${list(resolved)}\n` : ''}\n`;
}

describe('Docs: Alertmanager default templates in docs/templates.md', () => {
  it.each(['am-0.25-firing.json', 'am-0.25-prom-group-some-resolved.json', 'am-0.25-resolved.json'])(
    'should render the Slack title of %s as Alertmanager does',
    (name) => {
      // Prepare
      const notification = referencePayload(name);
      const compiled = compileTemplate(documented('subject'), mrkdwnFormat);

      // Act
      const title = renderTemplate(compiled, templateData(notification, { name: 'ops', sink: 'slack' }));

      // Assess
      expect(title).toBe(goSubject(notification));
    },
  );

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

  it.each(['am-0.25-prom-group-some-resolved.json', 'am-0.25-firing.json', 'am-0.25-resolved.json'])(
    'should render the Teams text of %s as Alertmanager does, values escaped',
    (name) => {
      // Prepare
      const notification = referencePayload(name);
      const compiled = compileTemplate(documented('teams-text'), markdownFormat);

      // Act
      const text = renderTemplate(compiled, templateData(notification, { name: 'ops', sink: 'teams' }));

      // Assess
      expect(text).toBe(goTeamsText(notification, markdown));
    },
  );
});
