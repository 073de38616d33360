import { createHash } from 'node:crypto';
import type { DestinationConfig } from '../config/types.ts';
import type { Delivery } from '../delivery/sink.ts';
import { stormSettings } from './config.ts';

/** How long storm mode remembers that a group has had a message of its own. */
const SEEN_TTL_SECONDS = 30 * 24 * 3600;

/**
 * For a chat sink that cannot look its posted messages up (a Teams workflow, a Google Chat
 * webhook): whether the delivery's group has had a message of its own in this destination,
 * which storm mode needs to tell a new group from one it has seen. Kept under
 * `<prefix>#<destination>#<hash of groupKey>` for 30 days, and only while storm mode is on.
 * `groupId` is the hash, the group's id for runStorm.
 */
export async function seenGroup(
  delivery: Delivery<DestinationConfig & { storm?: false | Record<string, unknown> }>,
  prefix: string,
  now: () => number,
): Promise<{ groupId: string; seen: boolean; markSeen(): Promise<void> }> {
  const { destination, notification, state } = delivery;
  const stormOn = stormSettings(destination.storm as Parameters<typeof stormSettings>[0]) !== undefined;
  const groupId = createHash('sha256').update(notification.groupKey).digest('hex').slice(0, 40);
  const key = `${prefix}#${destination.name}#${groupId}`;
  const seen = stormOn && (await state.get<{ at: string }>(key)) !== undefined;
  return {
    groupId,
    seen,
    async markSeen() {
      if (stormOn && !seen)
        await state.put(key, { at: new Date(now()).toISOString() }, { ttlSeconds: SEEN_TTL_SECONDS });
    },
  };
}
