import { describe, expect, it } from 'vitest';
import { runbookUrl, silenceUrl } from '../../../lib/alertmanager/links.ts';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { buildTeamsMessages, messageBytes, teamsText } from '../../../lib/sinks/teams/card.ts';
import { teamsRunFailure } from '../../support/fake-teams.ts';
import { makeNotification } from '../../support/notifications.ts';

const links = { silenceUrl, runbookUrl };

function notification(count: number, status: Notification['status'] = 'firing'): Notification {
  const n = makeNotification({ count, status });
  n.commonLabels = { alertname: 'HighLatency', severity: 'critical' };
  n.commonAnnotations = { summary: 'Latency is high', runbook_url: 'https://runbooks.example/latency' };
  return n;
}

const contentOf = (message: ReturnType<typeof buildTeamsMessages>[number]) => message.attachments[0].content;

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

describe('Function: teamsText', () => {
  it('should escape markdown, drop control and bidi characters and break mentions', () => {
    // Act
    const text = teamsText('[x](https://e.example) @here \u202e\u001b[31m', 100);

    // Assess
    expect(text).toBe('\\[x\\]\\(https:\u200b//e\\.example\\) @\u200bhere ');
  });
});
