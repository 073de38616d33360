import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { destinationSecretNames, ingestSecretNames, sinkSecretNames } from '../../lib/config/secrets.ts';
import type { RelayConfig } from '../../lib/config/types.ts';

const example = parseConfig(
  readFileSync(new URL('../../relay.example.yaml', import.meta.url), 'utf8'),
  'relay.example.yaml',
);

describe('Function: destinationSecretNames', () => {
  it('should list every field ending in Secret, at any depth, sorted and once each', () => {
    // Prepare
    const destination = {
      name: 'team',
      sink: 'slack',
      tokenSecret: 'SLACK_TOKEN',
      graph: { basicAuthUserSecret: 'PROM_USER', basicAuthPasswordSecret: 'PROM_PASSWORD' },
      list: [{ nestedSecret: 'IN_A_LIST' }, { otherSecret: 'SLACK_TOKEN' }],
      // Not names: a field that merely contains "secret", and a non-string value.
      secretive: 'NOT_A_NAME',
      emptySecret: '',
    };

    // Act
    const names = destinationSecretNames(destination);

    // Assess
    expect(names).toEqual(['IN_A_LIST', 'PROM_PASSWORD', 'PROM_USER', 'SLACK_TOKEN']);
  });

  it('should find the graph block token of the example Slack destination', () => {
    // Prepare
    const slack = example.destinations.find((destination) => destination.name === 'team-slack');

    // Act
    const names = destinationSecretNames(slack as RelayConfig['destinations'][number]);

    // Assess
    expect(names).toEqual(['PROMETHEUS_TOKEN', 'SLACK_BOT_TOKEN']);
  });
});

describe('Function: ingestSecretNames', () => {
  it('should list the token and the previous token', () => {
    // Act & Assess
    expect(ingestSecretNames(example)).toEqual(['INGEST_TOKEN', 'INGEST_TOKEN_PREVIOUS']);
  });

  it('should list nothing without a token', () => {
    // Act & Assess
    expect(ingestSecretNames({ ingest: {}, destinations: [] })).toEqual([]);
  });
});

describe('Function: sinkSecretNames', () => {
  it("should list the names of every destination of the sink and none of another sink's", () => {
    // Prepare
    const config: RelayConfig = {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [
        { name: 'a', sink: 'pagerduty', routingKeySecret: 'PD_A' },
        { name: 'b', sink: 'pagerduty', routingKeySecret: 'PD_B' },
        { name: 'c', sink: 'slack', tokenSecret: 'SLACK_TOKEN' },
        { name: 'd', sink: 'webhook', url: 'https://example.invalid/hook' },
      ],
    };

    // Act
    const pagerduty = sinkSecretNames(config, 'pagerduty');
    const webhook = sinkSecretNames(config, 'webhook');

    // Assess
    expect(pagerduty).toEqual(['PD_A', 'PD_B']);
    expect(webhook).toEqual([]);
  });
});
