import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../lib/config/load.ts';
import { slackSink } from '../../../lib/sinks/slack/slack.ts';

function config(destination: Record<string, unknown>) {
  return {
    ingest: { tokenSecret: 'INGEST_TOKEN' },
    destinations: [{ name: 'team-slack', sink: 'slack', tokenSecret: 'SLACK_BOT_TOKEN', ...destination }],
  };
}

function failure(value: unknown): string {
  try {
    validateConfig(value, 'relay.yaml');
  } catch (error) {
    return String((error as Error).message);
  }
  return 'accepted';
}

describe('Sink: slack config schema', () => {
  it('should accept a full destination with a graph block', () => {
    // Prepare
    const value = config({
      channel: 'C0123456789',
      baseUrl: 'https://slack.com/api',
      update: 'edit',
      newMessageAfterResolve: false,
      contextLabels: ['cluster'],
      fieldLabels: ['severity', 'team'],
      timeoutSeconds: 5,
      graph: {
        prometheusUrl: 'http://prometheus:9090',
        windowSeconds: 3600,
        bearerTokenSecret: 'PROM_TOKEN',
      },
    });

    // Act
    const result = validateConfig(value, 'relay.yaml');

    // Assess
    expect(result.destinations[0]).toMatchObject({ sink: 'slack', channel: 'C0123456789', update: 'edit' });
  });

  it.each([
    ['a channel name instead of an ID', { channel: '#ops' }],
    ['a lower-case channel ID', { channel: 'c0123456789' }],
    ['an unknown update mode', { channel: 'C0123456789', update: 'replace' }],
    ['a typo in a field name', { channel: 'C0123456789', updates: 'both' }],
    ['a graph block without prometheusUrl', { channel: 'C0123456789', graph: { windowSeconds: 60 } }],
    ['a storm threshold of 0', { channel: 'C0123456789', storm: { threshold: 0 } }],
    ['an unknown storm key', { channel: 'C0123456789', storm: { thresold: 20 } }],
    ['an unknown afterwards', { channel: 'C0123456789', storm: { afterwards: 'nothing' } }],
    ['storm: true', { channel: 'C0123456789', storm: true }],
    ['an unknown template key', { channel: 'C0123456789', templates: { body: '{{ status }}' } }],
    ['an empty template', { channel: 'C0123456789', templates: { title: '' } }],
    [
      'a token in the config instead of a secret name',
      { channel: 'C0123456789', tokenSecret: 'xoxb-123-456' },
    ],
  ])('should refuse %s', (_name, destination) => {
    expect(failure(config(destination))).not.toBe('accepted');
  });

  it.each([
    ['storm settings', { storm: { threshold: 20, window: 120, cooldown: 600, afterwards: 'backfill' } }],
    ['storm mode off', { storm: false }],
    [
      'templates',
      { templates: { title: '{{ status | upcase }}', text: '*{{ commonAnnotations.summary }}*' } },
    ],
  ])('should accept %s', (_name, fields) => {
    expect(failure(config({ channel: 'C0123456789', ...fields }))).toBe('accepted');
  });

  it('should refuse a destination without a channel', () => {
    expect(failure(config({}))).toContain('channel');
  });

  it('should say at start when graphs are off', () => {
    expect(
      slackSink.describe?.({ name: 'x', sink: 'slack', tokenSecret: 'T', channel: 'C0123456789' }),
    ).toContain('graphs are off (no graph.prometheusUrl)');
  });
});
