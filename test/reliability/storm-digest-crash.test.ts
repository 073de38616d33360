import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { deadLetterQueueName, sinkQueueName } from '../../lib/queue/local.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../support/fake-slack.ts';
import { type ManagedProcess, relayUrl, spawnRelay, tail } from '../support/run-script.ts';
import { namesHost, resolvedGroup, stormGroup } from '../support/storm.ts';
import { closedPort } from '../support/webhook-receiver.ts';
import { postStorm } from './support/storm.ts';

const SLACK_TOKEN = 'xoxb-storm-crash-0000-slack';
const CHANNEL = 'C0STORMKIL9';
/** Distinct new groups, posted as fast as four clients can. */
const GROUPS = 30;
/** The schema's minimums for window and cooldown: the storm is calm ~40 s after its last new group. */
const STORM = { threshold: 3, window: 10, cooldown: 30, afterwards: 'backfill' } as const;
/** Folded groups (well past the first `threshold` that start the storm) that resolve during the storm. */
const RESOLVED = [22, 26, 29] as const;
/** Top-level messages besides the digest once it is all over: one per group still firing. */
const OWN_MESSAGES = GROUPS - RESOLVED.length;
/** The third kill comes once this many backfilled messages are in the channel. */
const BACKFILLED_AT_THIRD_KILL = 10;
/** Bound of the wait for the final state (calm ~40 s after the last new group, then ~1 message/s). */
const SETTLE_TIMEOUT_MS = 120_000;

const textOf = (message: FakeSlackMessage) => `${message.text ?? ''} ${JSON.stringify(message.blocks ?? [])}`;
const isDigest = (message: FakeSlackMessage) => JSON.stringify(message.blocks ?? []).includes('Alert storm');
const groupsNamed = (message: FakeSlackMessage) =>
  Array.from({ length: GROUPS }, (_, i) => i).filter((i) => namesHost(i, textOf(message)));

interface Kill {
  when: string;
  pid: number;
  /** Notifications answered 202 so far (of the current postStorm call). */
  accepted: number;
  /** Top-level messages in the channel at the kill. */
  topLevel: number;
  signal?: NodeJS.Signals | null;
}

/**
 * A Slack storm digest (lib/chat/storm) against the relay as `npm start` runs it, killed with
 * SIGKILL three times and each time restarted on the same port and data directory: when half the
 * groups are accepted, the instant the fake Slack has answered the digest's chat.postMessage
 * (the relay may or may not have journalled the answer), and in the middle of the backfill.
 * Clients repost what the dead process did not answer, as Alertmanager does. Afterwards the
 * channel has one digest, whose final summary counts every group once, and one message of its own
 * for every group still firing; nothing is dead-lettered.
 */
describe('Reliability: kill -9 during a Slack storm digest and its backfill', () => {
  let dir: string;
  let slack: FakeSlack;
  const processes: ManagedProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-storm-crash-'));
    // Slack's rate limits on: a burst of 3, then one message per second per channel.
    slack = await startFakeSlack({ token: SLACK_TOKEN, channels: [CHANNEL], burst: 3 });
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop(2_000)));
    await slack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function startRelayProcess(port: number, configPath: string) {
    const proc = spawnRelay({
      cwd: dir,
      env: {
        RELAY_DATA_DIR: join(dir, 'data'),
        RELAY_CONFIG: configPath,
        PORT: String(port),
        SLACK_BOT_TOKEN: SLACK_TOKEN,
        LOG_LEVEL: 'INFO',
      },
    });
    processes.push(proc);
    return { proc, url: await relayUrl(proc) };
  }

  /** GET /healthz until the slack queue is empty (deferred come-backs included); bounded. */
  async function drained(url: string, attempts = 600): Promise<void> {
    for (let i = 0; i < attempts; i++) {
      const health = (await (await fetch(`${url}/healthz`)).json()) as {
        queues: Record<string, { visible: number; inFlight: number }>;
      };
      const queue = health.queues.slack;
      if (queue.visible === 0 && queue.inFlight === 0) return;
      await delay(100);
    }
    throw new Error('the relay did not drain its slack queue');
  }

  it(
    'should post one digest that counts every group once, and one message per folded group still firing, across three kill -9s',
    async () => {
      // Prepare
      const configPath = join(dir, 'relay.yaml');
      await writeFile(
        configPath,
        stringify({
          destinations: [
            {
              name: 'storm-slack',
              sink: 'slack',
              tokenSecret: 'SLACK_BOT_TOKEN',
              channel: CHANNEL,
              baseUrl: slack.apiUrl,
              storm: STORM,
            },
          ],
        }),
      );
      const port = await closedPort();
      const digests = () => slack.topLevel(CHANNEL).filter(isDigest);
      const own = () => slack.topLevel(CHANNEL).filter((m) => !isDigest(m));
      const over = () => digests().some((m) => textOf(m).includes('Alert storm over'));
      const describeChannel = () =>
        slack
          .topLevel(CHANNEL)
          .map((m) => `${m.ts} ${isDigest(m) ? `DIGEST ${m.text}` : `groups ${groupsNamed(m).join(',')}`}`)
          .join('\n');
      let relay = startRelayProcess(port, configPath);
      let current: Promise<string> = relay.then((r) => r.url);
      const kills: Kill[] = [];
      let accepted = 0;
      /**
       * kill -9 the running relay (once it is up) and start it again. A client's attempt that
       * starts before the kill has been sent goes to the dead process, gets no answer and is
       * retried; from the kill on, attempts wait for the restarted relay (same port).
       */
      const crash = (when: string) => {
        const dying = relay;
        const restarted = Promise.withResolvers<{ proc: ManagedProcess; url: string }>();
        relay = restarted.promise;
        (async () => {
          const { proc } = await dying;
          const kill: Kill = { when, pid: proc.pid, accepted, topLevel: slack.topLevel(CHANNEL).length };
          process.kill(proc.pid, 'SIGKILL');
          current = restarted.promise.then((r) => r.url);
          kill.signal = (await proc.exited()).signal;
          kills.push(kill);
          return startRelayProcess(port, configPath);
        })().then(restarted.resolve, restarted.reject);
      };
      // The instant the fake Slack has answered the digest's post: the relay may not have journalled
      // the answer yet, and then the restarted one must find the digest by its metadata.
      const digestKill = slack.waitFor(() => digests().length > 0).then(() => crash('the digest was posted'));
      // What the channel held when the final summary was shown: the groups that had their own message before.
      const atCalm = slack.waitFor(over).then(() => own());
      const backfillKill = slack
        .waitFor(() => over() && own().length >= STORM.threshold + BACKFILLED_AT_THIRD_KILL)
        .then(() => crash('mid-backfill'));

      // Act
      const posted = await postStorm(
        Array.from({ length: GROUPS }, (_, i) => stormGroup(i)),
        {
          target: () => current,
          clients: 4,
          onAccepted: (n) => {
            accepted = n;
            if (n === GROUPS / 2) crash('half the groups accepted');
          },
        },
      );
      const resolves = await postStorm(
        RESOLVED.map((i) => resolvedGroup(i)),
        { target: () => current, clients: RESOLVED.length },
      );
      try {
        await slack.waitFor(() => over() && own().length >= OWN_MESSAGES, { timeoutMs: SETTLE_TIMEOUT_MS });
      } catch {
        throw new Error(
          `no final summary and ${OWN_MESSAGES} messages of their own within ${SETTLE_TIMEOUT_MS} ms; kills ${JSON.stringify(kills)}; channel:\n${describeChannel()}\nlast relay output:\n${tail(processes[processes.length - 1].output())}`,
        );
      }
      await Promise.all([digestKill, backfillKill]);
      const last = await relay;
      await drained(last.url);
      await last.proc.stop();
      const before = await atCalm;

      // Assess
      const queue = new SqliteQueue({ path: join(dir, 'data', 'relay.db') });
      const dead = queue.peek(deadLetterQueueName('slack'), 1_000);
      const leftOver = queue.depth(sinkQueueName('slack'));
      queue.close();
      const logs = processes.map((p) => p.output()).join('\n');
      const ownBefore = before.flatMap(groupsNamed);
      // Posts whose answer a kill cut off, found again by their metadata instead of posted again (posts.ts).
      const refound = logs
        .split('\n')
        .filter((line) => line.includes('found the message of an interrupted post'))
        .map((line) => /"step":"([^"]+)"/.exec(line)?.[1] ?? line.slice(0, 120));
      const backfilled = own().filter((m) => !before.includes(m));
      console.log(
        `storm-digest-crash: kill -9 ${kills.map((k) => `${k.when} (pid ${k.pid}, ${k.accepted} accepted, ${k.topLevel} top-level, ${k.signal})`).join('; ')};` +
          ` ${posted.retried + resolves.retried} client retries; statuses ${JSON.stringify(Object.fromEntries(posted.statuses))};` +
          ` own before the storm: ${ownBefore.join(',')}; backfilled ${backfilled.length};` +
          ` interrupted posts found again: [${refound.join(', ')}];` +
          ` Slack requests ${slack.requests.length}, 429s ${slack.rateLimited}\n${describeChannel()}`,
      );

      // Each kill was a SIGKILL of a live relay, and the restarted ones did the rest: accepted the
      // groups the first did not, and posted the backfill the third kill interrupted.
      expect(kills.map((k) => k.signal)).toEqual(['SIGKILL', 'SIGKILL', 'SIGKILL']);
      expect(kills.map((k) => k.when).sort()).toEqual(
        ['half the groups accepted', 'mid-backfill', 'the digest was posted'].sort(),
      );
      expect(kills[0].accepted).toBeLessThan(GROUPS);
      // The client whose answer set off the 'half accepted' kill posted its next group to the dead process.
      expect(posted.retried).toBeGreaterThan(0);
      expect(posted.accepted).toBe(GROUPS);
      expect(resolves.accepted).toBe(RESOLVED.length);
      expect(kills[2].when).toBe('mid-backfill');
      expect(kills[2].topLevel).toBeLessThan(slack.topLevel(CHANNEL).length);
      expect(last.proc.exitStatus()).toEqual({ code: 0, signal: null });
      expect(logs).toContain('alert storm: new groups go into one digest message');

      // One digest, edited (never posted again) to its final summary, which counts every group once.
      const [digest, ...more] = digests();
      expect(more.map(textOf)).toEqual([]);
      const final = textOf(digest);
      expect(final).toContain('Alert storm over');
      expect(final).toContain(`Alert storm over: ${GROUPS} groups, ${OWN_MESSAGES} still firing`);
      expect(final).toContain(
        `${OWN_MESSAGES} firing, ${RESOLVED.length} resolved alerts in ${GROUPS} groups`,
      );
      // Even groups are NodeDown (critical), odd ones DiskFull (warning); 22 and 26 are even, 29 odd.
      expect(final).toContain('*NodeDown* (critical): 13 firing, 2 resolved');
      expect(final).toContain('*DiskFull* (warning): 14 firing, 1 resolved');
      expect(digest.edits.length).toBeGreaterThan(0);

      // The groups that started the storm kept their own messages; the resolved ones were folded.
      expect(before.map(groupsNamed).map((named) => named.length)).toEqual(Array(STORM.threshold).fill(1));
      expect(ownBefore.filter((i) => (RESOLVED as readonly number[]).includes(i))).toEqual([]);
      // Every group still firing has exactly one message of its own; the resolved ones none.
      const perGroup = Array.from(
        { length: GROUPS },
        (_, i) => own().filter((m) => namesHost(i, textOf(m))).length,
      );
      const expected = Array.from({ length: GROUPS }, (_, i) =>
        (RESOLVED as readonly number[]).includes(i) ? 0 : 1,
      );
      expect(perGroup).toEqual(expected);
      expect(own()).toHaveLength(OWN_MESSAGES);
      expect(backfilled).toHaveLength(GROUPS - STORM.threshold - RESOLVED.length);
      // Nothing else in the channel: no group changed, so no thread replies either.
      expect(slack.messages.filter((m) => m.threadTs).map(textOf)).toEqual([]);
      expect(slack.violations).toEqual([]);
      expect(dead.map((m) => m.body.slice(0, 200))).toEqual([]);
      expect(leftOver).toEqual({ visible: 0, inFlight: 0 });
    },
    SETTLE_TIMEOUT_MS + 60_000,
  );
});
