import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markdown } from '../../../lib/format/markdown.ts';
import { createDiscordSink, type DiscordDestination } from '../../../lib/sinks/discord/discord.ts';
import { type FakeDiscord, startFakeDiscord } from '../../support/fake-discord.ts';
import { makeNotification } from '../../support/notifications.ts';
import { memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';

const WEBHOOK = { id: '112233445566778899', token: 'tOkEn-For_Templates-0123456789abcdef' };
const SECRET = 'DISCORD_WEBHOOK_URL';
const TEAM = '@everyone [login](https://evil.example) **x**';

describe('Sink: discord (templates, at the fake Discord)', () => {
  let discord: FakeDiscord;

  beforeEach(async () => {
    discord = await startFakeDiscord({ webhooks: [WEBHOOK] });
  });

  afterEach(async () => {
    await discord.close();
  });

  async function deliver(templates: DiscordDestination['templates'], count = 2) {
    const destination: DiscordDestination = {
      name: 'ops-discord',
      sink: 'discord',
      webhookUrlSecret: SECRET,
      templates,
    };
    const counted: string[] = [];
    await createDiscordSink().deliver({
      ...vendorDelivery(destination, makeNotification({ count, labels: () => ({ team: TEAM }) }), {
        state: memoryState(),
        secrets: { [SECRET]: discord.webhookUrl(WEBHOOK) },
      }),
      count: (name) => void counted.push(name),
    });
    return counted;
  }

  it('should post the templated title and description, label values escaped, in one message', async () => {
    // Act
    const counted = await deliver(
      {
        title: '{{ commonLabels.alertname }}: {{ alerts | count_status: "firing" }} firing',
        text: '{% for a in alerts %}{{ a.labels.instance }} {{ a.labels.team }}\n{% endfor %}',
      },
      60,
    );

    // Assess
    expect(discord.messages).toHaveLength(1);
    const [header] = discord.messages[0].embeds;
    expect(header.title).toBe('HighLatency: 60 firing');
    expect(header.description).toContain(`web\\-1:9100 ${markdown(TEAM)}`);
    // Sixty lines do not fit one embed: the text is cut, marked, within Discord's limits.
    expect(header.description).toMatch(/…/);
    expect(header.description?.length).toBeLessThanOrEqual(4096);
    expect(header.description).not.toMatch(/(^|[^\\])\]\(https:\/\/evil/);
    expect(header.description).not.toContain('@everyone');
    expect(counted).toEqual([]);
  });

  it('should keep the default title with a note when a template fails, and count it', async () => {
    // Act
    const counted = await deliver({
      title:
        '{{ alerts | sort_by: "labels.team" | json | append: x }}{% for i in (1..99999999) %}{% endfor %}',
    });

    // Assess
    const [header] = discord.messages[0].embeds;
    expect(header.title).toBe('🔥 \\[FIRING:2\\] HighLatency');
    expect(header.description).toContain('template "title" failed: line 1, column');
    expect(counted).toEqual(['TemplateFailed']);
  });
});
