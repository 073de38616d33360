import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/config-error.ts';
import { templateData } from '../../lib/templates/data.ts';
import {
  compileDestinationTemplates,
  renderDestinationTemplates,
  type TemplateSpec,
  templateProblems,
} from '../../lib/templates/destination.ts';
import { referencePayload } from '../support/notifications.ts';

const spec: TemplateSpec = { keys: ['title', 'text'], format: 'markdown' };

function configError(act: () => unknown): ConfigError {
  try {
    act();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

function reporter() {
  const warnings: Record<string, unknown>[] = [];
  const counted: string[] = [];
  return {
    warnings,
    counted,
    logger: { warn: (_: string, extra?: Record<string, unknown>) => void warnings.push(extra ?? {}) },
    count: (name: string) => void counted.push(name),
  };
}

describe('Function: compileDestinationTemplates', () => {
  it('should return undefined for a destination without templates', () => {
    // Act
    const compiled = compileDestinationTemplates({ name: 'ops', sink: 'teams' }, spec.keys, 'markdown');

    // Assess
    expect(compiled).toBeUndefined();
  });

  it('should name the destination, key, line and column of every problem', () => {
    // Prepare
    const destination = {
      name: 'ops',
      sink: 'teams',
      templates: { title: '{{ status | upcase }}', text: 'ok\n{{ status | nope }}', footer: 'x' },
    };

    // Act
    const error = configError(() => compileDestinationTemplates(destination, spec.keys, 'markdown'));

    // Assess
    expect(error.problems).toEqual([
      'destination "ops" (teams) templates.text: line 2, column 1: undefined filter: nope',
      'destination "ops" (teams) templates.footer: unknown template key (teams takes title, text)',
    ]);
  });

  it('should prefix the loader position in templateProblems', () => {
    // Prepare
    const destination = { name: 'ops', sink: 'teams', templates: { title: '{% if %}' } };

    // Act
    const problems = templateProblems(destination, spec, 'destinations[3]');

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^destinations\[3\]: destination "ops" \(teams\) templates\.title: line 1, column 6: invalid value expression/,
    );
  });
});

describe('Function: renderDestinationTemplates', () => {
  const notification = referencePayload('am-0.25-firing.json');

  it('should render each key over the notification', () => {
    // Prepare
    const destination = {
      name: 'ops',
      sink: 'teams',
      templates: { title: '{{ status | upcase }} {{ destination.name }} {{ alerts | size }}' },
    };
    const report = reporter();

    // Act
    const rendered = renderDestinationTemplates(
      destination,
      spec,
      templateData(notification, destination),
      report,
    );

    // Assess
    expect(rendered).toEqual({ values: { title: `FIRING ops ${notification.alerts.length}` }, notes: [] });
    expect(report.counted).toEqual([]);
  });

  it('should leave a failed key out with an escaped note, a warning and a TemplateFailed count', () => {
    // Prepare
    const destination = {
      name: 'ops',
      sink: 'teams',
      templates: { title: 'ok', text: '{% for i in (1..100000000) %}x{% endfor %}' },
    };
    const report = reporter();

    // Act
    const rendered = renderDestinationTemplates(
      destination,
      spec,
      templateData(notification, destination),
      report,
    );

    // Assess
    expect(rendered.values).toEqual({ title: 'ok' });
    expect(rendered.notes).toEqual([
      '\\(template "text" failed: line 1, column 1: memory alloc limit exceeded; showing the default\\)',
    ]);
    expect(report.counted).toEqual(['TemplateFailed']);
    expect(report.warnings).toEqual([
      { destination: 'ops', template: 'text', reason: 'line 1, column 1: memory alloc limit exceeded' },
    ]);
  });
});

describe('Function: templateData', () => {
  it('should carry the webhook fields, the destination and checked links', () => {
    // Prepare
    const notification = referencePayload('am-0.25-firing.json');
    notification.alerts[0].annotations.runbook_url = 'javascript:alert(1)';

    // Act
    const data = templateData(notification, { name: 'ops', sink: 'teams' });

    // Assess
    expect(data).toMatchObject({
      status: notification.status,
      receiver: notification.receiver,
      groupKey: notification.groupKey,
      externalURL: notification.externalURL,
      destination: { name: 'ops', sink: 'teams' },
      part: { index: 1, count: 1 },
    });
    expect(data.alerts[0].links.runbook).toBeNull();
    expect(data.alerts[0].links.graph).toBe(
      new URL(notification.alerts[0].generatorURL).href.replace(/\|/g, '%7C'),
    );
    expect(data.links.silence).toMatch(/^http.*\/#\/silences\/new\?filter=/);
  });
});
