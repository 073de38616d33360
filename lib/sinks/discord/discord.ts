import { createHash } from 'node:crypto';
import { ALERTMANAGER_LINKS, type LinkBuilders } from '../../alertmanager/links.ts';
import { type StepJournal, stepJournal } from '../../delivery/journal.ts';
import { awaitSlot } from '../../delivery/pacing.ts';
import type { Delivery, DeliveryPipeline, Sink } from '../../delivery/sink.ts';
import { runStorm } from '../../digest/run.ts';
import { renderDeliveryTemplates, type TemplateSpec } from '../../templates/destination.ts';
import {
  DEFAULT_DISCORD_TIMEOUT_SECONDS,
  DISCORD_BURST,
  DISCORD_REQUESTS_PER_MINUTE,
  DISCORD_TEMPLATES,
  type DiscordDestination,
  discordConfigSchema,
} from './config.ts';
import { DISCORD_DIGEST_LISTED, discordDigest } from './digest.ts';
import { buildDiscordMessages } from './embeds.ts';
import { DISCORD_ERRORS, DiscordWebhook, discordErrorCode } from './webhook-api.ts';

export type { DiscordDestination } from './config.ts';

/**
 * Discord sink: one message per alert group, posted through a channel webhook and edited as
 * the group changes; red while firing, green once resolved. When the group fires again after
 * it resolved, it gets a new message (the resolved one stays as the record of the last
 * incident). Its config: ./config.ts; the embeds: ./embeds.ts; the calls: ./webhook-api.ts.
 *
 * The group's message ids live in the state store per destination + groupKey. Every Discord
 * call of a delivery is a step of its journal, so a retry does not post twice what an earlier
 * attempt posted and recorded. What a journal cannot cover: an execute whose answer was lost
 * (a timeout after Discord created the message) is posted again on the retry, because a
 * webhook cannot list the channel's messages to find it.
 */

export interface DiscordSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  links?: LinkBuilders;
  /** Embed characters per message (tests of the splitting). */
  maxChars?: number;
}

/** The group's messages, per destination + groupKey in the state store. */
export interface DiscordGroupRecord {
  /** Message ids, in order: the group's message first, then its continuations. */
  messages: string[];
  status: 'firing' | 'resolved';
  updatedAt: string;
}

/** The journal step holding which messages this delivery edits, decided once. */
interface PlanStep {
  messages: string[];
}

const GROUP_TTL_SECONDS = 30 * 24 * 3600;

const groupHash = (groupKey: string) => createHash('sha256').update(groupKey).digest('hex').slice(0, 40);

/** The state-store key of a group's messages. */
export function discordGroupKey(destination: string, groupKey: string): string {
  return `discordgroup#${destination}#${groupHash(groupKey)}`;
}

export function createDiscordSink(
  options: DiscordSinkOptions = {},
): Sink<DiscordDestination> & { templates: TemplateSpec } {
  // Read at each call: a test's virtual clock replaces Date.now after the sink is made.
  const now = options.now ?? (() => Date.now());
  const links = options.links ?? ALERTMANAGER_LINKS;

  return {
    name: 'discord',
    kind: 'lifecycle',
    configSchema: discordConfigSchema,
    templates: DISCORD_TEMPLATES,

    async deliver(delivery: Delivery<DiscordDestination>, pipeline?: DeliveryPipeline): Promise<void> {
      const { destination, notification, state, logger } = delivery;
      const webhook = new DiscordWebhook(await delivery.secrets.get(destination.webhookUrlSecret), {
        timeoutSeconds: destination.timeoutSeconds ?? DEFAULT_DISCORD_TIMEOUT_SECONDS,
        fetch: options.fetch,
        now,
        secretName: destination.webhookUrlSecret,
      });
      const journal = stepJournal(delivery);
      const key = discordGroupKey(destination.name, notification.groupKey);
      const pace = {
        burst: DISCORD_BURST,
        intervalMs: Math.ceil(60_000 / (destination.requestsPerMinute ?? DISCORD_REQUESTS_PER_MINUTE)),
      };
      /** Waits (in the queue) for call `step`'s turn in the webhook's budget (lib/delivery/pacing.ts). */
      const paced = (steps: StepJournal, step: string) =>
        awaitSlot({
          journal: steps,
          step: `pace:${step}`,
          state,
          key: `discordpace#${webhook.id}`,
          pace,
          now,
          what: 'Discord webhook pacing',
        });
      // Later parts of a split notification are messages of their own; the first part owns the group's.
      const ownsGroup = delivery.part.index === 1;

      // In a storm a new group is folded into the destination's digest instead (lib/digest/run.ts).
      const group = await state.get<DiscordGroupRecord>(key);
      const storm = await runStorm({
        pipeline,
        delivery,
        journal,
        groupId: groupHash(notification.groupKey),
        known: group !== undefined,
        newMessage: !group || (group.status === 'resolved' && notification.status === 'firing'),
        now,
        vendor: 'Discord',
        listed: DISCORD_DIGEST_LISTED,
        publisher: {
          async post(view, steps) {
            const { value } = await steps.once<{ id?: string }>('execute', async () => {
              await paced(steps, 'execute');
              const id = await webhook.execute(discordDigest(view.storm, view.totals));
              return id ? { id } : {};
            });
            // Without an id the digest cannot be edited: the storm's counts stay in the state store.
            return value.id ? { id: value.id } : { id: '' };
          },
          async show(view, message, steps) {
            if (!message.id) return;
            try {
              await paced(steps, 'edit');
              await webhook.edit(message.id, discordDigest(view.storm, view.totals));
            } catch (error) {
              if (discordErrorCode(error) !== DISCORD_ERRORS.unknownMessage) throw error;
              logger.warn('the storm digest was deleted in Discord; its counts stay in the state store');
            }
          },
        },
      });
      if (!storm.own) return;

      const { value: plan } = await journal.once<PlanStep>('plan', async () => {
        const group = ownsGroup ? await state.get<DiscordGroupRecord>(key) : undefined;
        const startsOver = !group || (group.status === 'resolved' && notification.status === 'firing');
        return { messages: startsOver ? [] : group.messages };
      });

      const { values, notes } = renderDeliveryTemplates(delivery, DISCORD_TEMPLATES, { now: now() });
      const built = buildDiscordMessages(notification, {
        links,
        part: delivery.part,
        maxChars: options.maxChars,
        templated: { title: values.title, text: values.text, notes },
      });
      const ids: string[] = [];
      let edited = 0;
      for (const [index, message] of built.entries()) {
        const existing = plan.messages[index];
        if (existing) {
          try {
            await journal.once(`edit:${index}`, async () => {
              await paced(journal, `edit:${index}`);
              await webhook.edit(existing, message);
              return { editedAt: new Date(now()).toISOString() };
            });
            ids.push(existing);
            edited++;
            continue;
          } catch (error) {
            if (discordErrorCode(error) !== DISCORD_ERRORS.unknownMessage) throw error;
            // Someone deleted the message: the group gets a new one.
            logger.warn('the group message was deleted in Discord; posting a new one', {
              message: index + 1,
            });
          }
        }
        const { value } = await journal.once<{ id?: string }>(`post:${index}`, async () => {
          await paced(journal, `post:${index}`);
          const id = await webhook.execute(message);
          return id ? { id } : {};
        });
        if (value.id) ids.push(value.id);
        else
          logger.warn('Discord answered without the message; later notifications post a new one', {
            host: webhook.label,
          });
      }
      // Fewer messages than last time (alerts went away): the extra ones would show stale alerts.
      for (const [index, stale] of plan.messages.slice(built.length).entries()) {
        await journal.once(`delete:${index}`, async () => {
          await paced(journal, `delete:${index}`);
          await webhook.remove(stale);
          return { deletedAt: new Date(now()).toISOString() };
        });
      }
      if (ownsGroup) {
        const record: DiscordGroupRecord = {
          messages: ids,
          status: notification.status,
          updatedAt: new Date(now()).toISOString(),
        };
        await state.put(key, record, { ttlSeconds: GROUP_TTL_SECONDS });
      }
      logger.info('discord message delivered', {
        status: notification.status,
        messages: built.length,
        edited,
        posted: built.length - edited,
        attempt: delivery.attempt,
      });
      await storm.after?.();
    },
  };
}

export const discordSink = createDiscordSink();
