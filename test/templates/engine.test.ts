import { describe, expect, it } from 'vitest';
import { markdown } from '../../lib/format/markdown.ts';
import {
  compileTemplate,
  renderTemplate,
  TEMPLATE_LIMITS,
  TemplateParseError,
  TemplateRenderError,
} from '../../lib/templates/engine.ts';
import { jsonFormat, markdownFormat, mrkdwnFormat, textFormat } from '../../lib/templates/formats.ts';

const data = {
  status: 'firing',
  commonLabels: { alertname: 'Disk', team: '<!channel> [x](https://evil.example) @here' },
  alerts: [{ status: 'firing', labels: { instance: 'web-0' } }],
};

function render(source: string, format = markdownFormat, values: Record<string, unknown> = data): string {
  return renderTemplate(compileTemplate(source, format), values);
}

function parseError(source: string, format = markdownFormat): TemplateParseError {
  try {
    compileTemplate(source, format);
  } catch (error) {
    return error as TemplateParseError;
  }
  throw new Error('expected a parse error');
}

describe('Function: compileTemplate', () => {
  it('should name the line and column of a syntax error', () => {
    // Act
    const error = parseError('line one\n  {{ status ');

    // Assess
    expect(error).toBeInstanceOf(TemplateParseError);
    expect([error.line, error.column]).toEqual([2, 3]);
    expect(error.message).toMatch(/^line 2, column 3: output "\{\{ status " not closed/);
  });

  it('should refuse an unknown filter at parse time', () => {
    // Act
    const error = parseError('{{ status | shout }}');

    // Assess
    expect(error.message).toBe('line 1, column 1: undefined filter: shout');
  });

  it.each(['include', 'render', 'layout', 'cycle', 'tablerow'])('should refuse the %s tag', (tag) => {
    // Act
    const error = parseError(`ok\n{% ${tag} "x" %}`);

    // Assess
    expect(error.message).toMatch(new RegExp(`^line 2, column 1: the ${tag} tag is not available`));
  });

  it('should refuse a value in a Markdown link target', () => {
    // Act
    const error = parseError('[graph]( {{ alerts[0].generatorURL }})');

    // Assess
    expect(error.message).toBe(
      'line 1, column 10: a value in a link (Markdown link [text](url), markdown): links from alert data need | link: "label"',
    );
  });

  it('should refuse a value inside a Slack <...> token', () => {
    // Act
    const error = parseError('<{{ externalURL }}|Alertmanager>', mrkdwnFormat);

    // Assess
    expect(error.message).toMatch(
      /^line 1, column 2: a value in a link \(<url\|text> token, mrkdwn\): links from alert data need \| link/,
    );
  });

  it('should refuse a template longer than the source limit', () => {
    // Act
    const error = parseError('x'.repeat(TEMPLATE_LIMITS.sourceChars + 1));

    // Assess
    expect(error.message).toBe(`longer than ${TEMPLATE_LIMITS.sourceChars} characters`);
  });
});

describe('Function: renderTemplate', () => {
  it('should escape every value for Markdown, filters included', () => {
    // Act
    const out = render('{{ commonLabels.team }} | {{ commonLabels.team | upcase }}');

    // Assess
    expect(out).toBe(
      `${markdown(data.commonLabels.team)} | ${markdown(data.commonLabels.team.toUpperCase())}`,
    );
    expect(out).not.toMatch(/(^|[^\\])\]\(https/);
  });

  it('should escape every value for Slack mrkdwn and keep the template text as written', () => {
    // Act
    const out = render('*{{ commonLabels.alertname }}* {{ commonLabels.team }}', mrkdwnFormat);

    // Assess
    expect(out).toBe('*Disk* &lt;!channel&gt; [x](https://evil.example) @\u200bhere');
  });

  it('should write a value as it is after | raw', () => {
    // Act
    const out = render('{{ v | raw }}', markdownFormat, { v: '**bold** @here' });

    // Assess
    expect(out).toBe('**bold** @here');
  });

  it('should fail a render where a value after | raw makes a link: raw writes markup, never a link', () => {
    // Prepare
    const compiled = compileTemplate('Note: {{ commonAnnotations.note | raw }}', markdownFormat);

    // Act
    const act = () =>
      renderTemplate(compiled, {
        commonAnnotations: { note: 'session expired, [log in](https://evil.example)' },
      });

    // Assess
    expect(act).toThrow(
      new TemplateRenderError(
        'line 1, column 7: a value in a link (Markdown link [text](url), markdown): links from alert data need | link: "label"',
      ),
    );
  });

  it('should escape values of {% echo %} too', () => {
    // Act
    const out = render('{% echo commonLabels.team %}', mrkdwnFormat);

    // Assess
    expect(out).toContain('&lt;!channel&gt;');
  });

  it('should strip terminal escapes and bidi controls in text', () => {
    // Act
    const out = render('{{ v }}', textFormat, { v: 'a\u001b[2Jb\u202ec' });

    // Assess
    expect(out).toBe('abc');
  });

  it('should read no prototype property', () => {
    // Act
    const out = render('[{{ constructor }}{{ alerts.constructor.name }}{{ commonLabels.hasOwnProperty }}]');

    // Assess
    expect(out).toBe('[]');
  });

  it('should render a JSON body whose values are JSON-escaped', () => {
    // Prepare
    const values = { name: 'a"b\\c\n</script>', labels: { x: '"}' } };

    // Act
    const out = render('{"name": "{{ name }}", "labels": {{ labels | json }}}', jsonFormat, values);

    // Assess
    expect(JSON.parse(out)).toEqual({ name: values.name, labels: values.labels });
  });

  it('should fail a JSON body that does not parse, quoting no alert content', () => {
    // Prepare
    const compiled = compileTemplate('{"name": {{ name }}}', jsonFormat);

    // Act
    const act = () => renderTemplate(compiled, { name: 'secret-label-value' });

    // Assess
    expect(act).toThrow(new TemplateRenderError('the rendered body is not valid JSON'));
  });

  it('should stop a render that allocates past the memory limit', () => {
    // Prepare
    const compiled = compileTemplate('{% for i in (1..100000000) %}x{% endfor %}', markdownFormat);

    // Act
    const act = () => renderTemplate(compiled, {});

    // Assess
    expect(act).toThrow(/memory alloc limit exceeded/);
  });

  it('should refuse an output longer than the output limit', () => {
    // Prepare
    const compiled = compileTemplate('{{ v }}{{ v }}', textFormat);
    const v = 'y'.repeat(TEMPLATE_LIMITS.outputChars / 2 + 1);

    // Act
    const act = () => renderTemplate(compiled, { v });

    // Assess
    expect(act).toThrow(`the output is over ${TEMPLATE_LIMITS.outputChars} characters`);
  });

  it('should render a missing label as nothing', () => {
    // Act
    const out = render('[{{ commonLabels.nothing }}]', textFormat);

    // Assess
    expect(out).toBe('[]');
  });
});
