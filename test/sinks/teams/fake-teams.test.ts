import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { card } from '../../../lib/sinks/teams/card.ts';
import {
  TEAMS_MESSAGE_LIMIT_BYTES as LIB_LIMIT,
  teamsMessageBytes,
} from '../../../lib/sinks/teams/limits.ts';
import {
  adaptiveCardProblems,
  type FakeTeams,
  startFakeTeams,
  TEAMS_MESSAGE_LIMIT_BYTES,
  teamsRunFailure,
} from '../../support/fake-teams.ts';

const WORKFLOW = '4b1f0a9c2d3e4f5a6b7c8d9e0f1a2b3c';
const SIG = 'sIgN4tur3-Xk2PqRw9zLmN0vBt7YcHd1';

/** A one-TextBlock message of exactly `bytes` bytes. */
function messageOf(bytes: number) {
  const oneChar = teamsMessageBytes(card([{ type: 'TextBlock', text: 'x', wrap: true }]));
  return card([{ type: 'TextBlock', text: 'x'.repeat(bytes - oneChar + 1), wrap: true }]);
}

/** A message whose card is `content`, as the workflow would receive it. */
const wrapped = (content: Record<string, unknown>) => ({
  type: 'message',
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
});

describe('Fake Teams workflow: what fails the run after the 202', () => {
  it('should count the limit declared in lib/sinks/teams, 28 KiB, refusing a message one byte over it', () => {
    // Prepare
    const atLimit = messageOf(TEAMS_MESSAGE_LIMIT_BYTES);
    const over = messageOf(TEAMS_MESSAGE_LIMIT_BYTES + 1);

    // Act
    const accepted = teamsRunFailure(atLimit, teamsMessageBytes(atLimit));
    const refused = teamsRunFailure(over, teamsMessageBytes(over));

    // Assess
    expect(TEAMS_MESSAGE_LIMIT_BYTES).toBe(LIB_LIMIT);
    expect(LIB_LIMIT).toBe(28_672);
    expect(teamsMessageBytes(atLimit)).toBe(28_672);
    expect(accepted).toBeUndefined();
    expect(refused).toBe('RequestEntityTooLarge: 28673 bytes (max 28672)');
  });

  it.each([
    { what: 'empty', text: '' },
    { what: 'only whitespace', text: ' \n\t ' },
  ])('should refuse a TextBlock whose text is $what, at any depth', ({ text }) => {
    // Prepare
    const top = { type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', text }] };
    const nested = {
      type: 'AdaptiveCard',
      version: '1.4',
      body: [
        {
          type: 'Container',
          items: [
            { type: 'TextBlock', text: 'ok' },
            { type: 'TextBlock', text },
          ],
        },
      ],
    };

    // Act
    const failures = [wrapped(top), wrapped(nested)].map((m) => teamsRunFailure(m, 100));

    // Assess
    expect(failures).toEqual([
      'attachments[0].body[0]: TextBlock without text',
      'attachments[0].body[0].items[1]: TextBlock without text',
    ]);
  });

  it.each([
    {
      what: 'a value Adaptive Cards does not define',
      body: [{ type: 'TextBlock', text: 'x', size: 'Huge' }],
      actions: [],
      reported: 'InvalidPropertyValue: Invalid value "Huge" for property "size".',
    },
    {
      what: 'a container style Adaptive Cards does not define',
      body: [{ type: 'Container', style: 'danger', items: [{ type: 'TextBlock', text: 'x' }] }],
      actions: [],
      reported: 'InvalidPropertyValue: Invalid value "danger" for property "style".',
    },
    {
      what: 'a duplicate id',
      body: [
        { type: 'TextBlock', text: 'x', id: 'a' },
        { type: 'TextBlock', text: 'y', id: 'a' },
      ],
      actions: [],
      reported: 'DuplicateId: Duplicate Id "a".',
    },
    {
      what: 'an Action.ShowCard without its card',
      body: [{ type: 'TextBlock', text: 'x' }],
      actions: [{ type: 'Action.ShowCard', title: 'More' }],
      reported:
        'PropertyCantBeNull: "An Action.ShowCard must have its "card" property set to a valid AdaptiveCard object.',
    },
  ])("should fail the run for a card Microsoft's library reports: $what", ({ body, actions, reported }) => {
    // Prepare
    const content = {
      type: 'AdaptiveCard',
      version: '1.4',
      body,
      ...(actions.length > 0 ? { actions } : {}),
    };

    // Act
    const failure = teamsRunFailure(wrapped(content), 200);

    // Assess
    expect(adaptiveCardProblems(content)).toEqual([reported]);
    expect(failure).toBe(`attachments[0]: ${reported}`);
  });

  it("should take the relay's own kind of card as Microsoft's library does", () => {
    // Prepare
    const message = card(
      [
        {
          type: 'Container',
          style: 'attention',
          bleed: true,
          items: [
            { type: 'TextBlock', text: 'heading', size: 'Large', weight: 'Bolder', color: 'Attention' },
          ],
        },
        { type: 'FactSet', facts: [{ title: 'a', value: 'b' }] },
        { type: 'TextBlock', text: 'line', wrap: true, spacing: 'Small', isSubtle: true },
      ],
      [{ type: 'Action.OpenUrl', title: 'Graph', url: 'https://prometheus.example/graph' }],
    );

    // Act
    const problems = adaptiveCardProblems(message.attachments[0].content);

    // Assess
    expect(problems).toEqual([]);
    expect(teamsRunFailure(message, teamsMessageBytes(message))).toBeUndefined();
  });
});

describe('Fake Teams workflow: a refused card is a failed run after the 202', () => {
  let teams: FakeTeams;

  beforeEach(async () => {
    teams = await startFakeTeams({ workflowId: WORKFLOW, sig: SIG });
  });

  afterEach(async () => {
    await teams.close();
  });

  const post = (body: unknown) =>
    fetch(teams.workflowUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it("should answer 202 to a card over the limit, one with a blank TextBlock and one Microsoft's library reports, and fail those runs", async () => {
    // Act
    const answers = [
      await post(messageOf(TEAMS_MESSAGE_LIMIT_BYTES + 1)),
      await post(wrappedText('  ')),
      await post(
        wrapped({
          type: 'AdaptiveCard',
          version: '1.4',
          body: [{ type: 'TextBlock', text: 'x', color: 'Red' }],
        }),
      ),
      await post(messageOf(TEAMS_MESSAGE_LIMIT_BYTES)),
    ];

    // Assess
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(teams.failedRuns).toEqual([
      { seq: 1, reason: 'RequestEntityTooLarge: 28673 bytes (max 28672)' },
      { seq: 2, reason: 'attachments[0].body[0]: TextBlock without text' },
      { seq: 3, reason: 'attachments[0]: InvalidPropertyValue: Invalid value "Red" for property "color".' },
    ]);
    expect(teams.cards).toHaveLength(1);
    expect(teams.cards[0].messageBytes).toBe(TEAMS_MESSAGE_LIMIT_BYTES);
  });
});

/** A message with one TextBlock of `text`, as a relay that did not leave a blank one out would post it. */
function wrappedText(text: string) {
  return wrapped({ type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', text, wrap: true }] });
}
