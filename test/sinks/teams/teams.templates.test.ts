import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markdown } from '../../../lib/format/markdown.ts';
import { createTeamsSink, type TeamsDestination } from '../../../lib/sinks/teams/teams.ts';
import { type FakeTeams, startFakeTeams } from '../../support/fake-teams.ts';
import { makeNotification } from '../../support/notifications.ts';
import { capturingLogger, memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';

const WORKFLOW = '4b1f0a9c2d3e4f5a6b7c8d9e0f1a2b3c';
const SIG = 'sIgN4tur3-Xk2PqRw9zLmN0vBt7YcHd1';
const SECRET = 'TEAMS_WEBHOOK_URL';
const TEAM = '[login](https://evil.example) @here';

describe('Sink: teams (templates, at the fake Teams workflow)', () => {
  let teams: FakeTeams;

  beforeEach(async () => {
    teams = await startFakeTeams({ workflowId: WORKFLOW, sig: SIG });
  });

  afterEach(async () => {
    await teams.close();
  });

  async function deliver(templates: TeamsDestination['templates']) {
    const destination: TeamsDestination = {
      name: 'ops-teams',
      sink: 'teams',
      webhookUrlSecret: SECRET,
      templates,
    };
    const notification = makeNotification({ count: 2, labels: () => ({ team: TEAM }) });
    const log = capturingLogger();
    const counted: string[] = [];
    await createTeamsSink().deliver({
      ...vendorDelivery(destination, notification, {
        state: memoryState(),
        secrets: { [SECRET]: teams.workflowUrl },
        logger: log.logger,
      }),
      count: (name) => void counted.push(name),
    });
    return { counted, lines: log.lines };
  }

  it('should post the templated heading and text as one card, label values escaped', async () => {
    // Act
    const { counted } = await deliver({
      title: '{{ status | upcase }}: {{ commonLabels.alertname }} ({{ alerts | size }})',
      text: '{% for a in alerts %}- **{{ a.labels.instance }}** {{ a.labels.team }} {{ a.links.graph | link: "graph" }}\n{% endfor %}',
    });

    // Assess
    expect(teams.failedRuns).toEqual([]);
    expect(teams.cards).toHaveLength(1);
    const [heading, text] = teams.cards[0].texts;
    expect(heading).toBe('FIRING: HighLatency (2)');
    expect(text).toContain(`- **web\\-0:9100** ${markdown(TEAM)} [graph](http://prometheus:9090/graph?`);
    expect(text).not.toMatch(/(^|[^\\])\]\(https:\/\/evil/);
    expect(text).not.toContain('@here');
    expect(teams.cards[0].texts.join('\n')).not.toContain('Latency high on web-0');
    expect(counted).toEqual([]);
  });

  it.each([
    { what: 'nothing', title: '{% if false %}x{% endif %}', text: '{{ commonAnnotations.missing }}' },
    { what: 'only whitespace', title: '  {{ "" }}  ', text: '{% for a in alerts %}\n  {% endfor %}' },
  ])(
    'should post the default heading and alert lines when the templates render $what',
    async ({ title, text }) => {
      // Act
      const { counted } = await deliver({ title, text });

      // Assess
      expect(teams.failedRuns).toEqual([]);
      expect(teams.cards).toHaveLength(1);
      const { texts } = teams.cards[0];
      expect(texts[0]).toBe('🔥 \\[FIRING:2\\] HighLatency');
      expect(texts.filter((t) => t.startsWith('🔴'))).toHaveLength(2);
      expect(texts.every((t) => t.trim() !== '')).toBe(true);
      expect(counted).toEqual([]);
    },
  );

  it('should keep the default card with a note when a template fails, and count it', async () => {
    // Act
    const { counted, lines } = await deliver({ title: '{% for i in (1..100000000) %}x{% endfor %}' });

    // Assess
    expect(teams.failedRuns).toEqual([]);
    expect(teams.cards).toHaveLength(1);
    expect(teams.cards[0].texts[0]).toBe('🔥 \\[FIRING:2\\] HighLatency');
    expect(teams.cards[0].texts).toContain(
      markdown(
        '(template "title" failed: line 1, column 1: memory alloc limit exceeded; showing the default)',
      ),
    );
    expect(counted).toEqual(['TemplateFailed']);
    expect(lines.some((line) => line.startsWith('warn template failed'))).toBe(true);
  });
});
