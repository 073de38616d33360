import type { Notification } from '../alertmanager/types.ts';
import type { DestinationConfig } from '../config/types.ts';
import type { Pace } from '../delivery/pacing.ts';
import type { Delivery, SinkPreview } from '../delivery/sink.ts';
import type { TemplateSpec } from '../templates/destination.ts';
import type { DigestView } from './storm/run.ts';

/**
 * A chat sink is an adapter: the vendor's facts (what it can do with a posted message, its pace,
 * the limits its render keeps to) and pure functions (render a notification, render a digest)
 * plus the vendor calls. The chat stage (./stage.ts) owns everything else once for every chat
 * vendor: the step journal, pacing, the group's vendor messages, storm mode, and which message
 * is posted, edited, threaded or removed.
 */

/** A chat destination: any destination, with the storm block every chat sink takes. */
export type ChatDestination = DestinationConfig & { storm?: false | Record<string, unknown> };

/** What the vendor can do with a message it posted. */
export interface ChatAbilities {
  /** Edit it in place: the group keeps its messages and they follow its state. */
  edit: boolean;
  /** Delete it: messages of the group's that are no longer needed are removed. */
  remove: boolean;
  /**
   * Reply in its thread: continuations and later parts go into the thread of the group's first
   * message (its id is the thread). A vendor that threads by a key of its own (Google Chat's
   * threadKey) says false and puts the key in the message it renders.
   */
  thread: boolean;
}

/** What a render gets: the notification share and the destination's templates, rendered. */
export interface ChatRender<C extends ChatDestination> {
  destination: C;
  notification: Notification;
  /** Which part of a notification the relay split to fit a queue message (1 of 1 when whole). */
  part: { index: number; count: number };
  /** The destination's templates for this delivery (escaped for the format); `notes` name those that failed. */
  templated: { values: Record<string, string | undefined>; notes: string[] };
  now: number;
}

/** Where a post goes and what makes it the same post across retries. */
export interface ChatPost {
  /** The thread to reply in (the id of the group's first message), for a vendor that threads. */
  thread?: string;
  /**
   * Stable across every retry of this post, different for any other post: a vendor-side
   * deduplication key can be derived from it (Google Chat's requestId).
   */
  key: string;
  /** Which message of the delivery's list this is (0 first); absent for the storm digest. */
  index?: number;
  /** The storm's state a digest post shows; absent for a group's message. */
  digest?: DigestView;
}

/** What the vendor answered a post with. */
export interface ChatPosted {
  /** The message's id, when the vendor says it (needed to edit, remove or thread under it). */
  id?: string;
}

/** The vendor for one delivery: its calls and the budget they are paced in. */
export interface ChatChannel<M> {
  /**
   * The pacing budget the calls share with every other delivery into the same channel: its
   * state-store key, its pace, and what a come-back message calls it ("Discord webhook pacing").
   */
  readonly budget: { key: string; pace: Pace; what: string };
  /** Names the channel in logs (a host, a channel id): never a secret. */
  readonly label: string;
  post(message: M, options: ChatPost): Promise<ChatPosted>;
  /** Edits message `id`; 'gone' when the vendor no longer has it (someone deleted it). */
  edit?(id: string, message: M): Promise<'edited' | 'gone'>;
  /** Removes message `id`; a message already gone is not an error. */
  remove?(id: string): Promise<void>;
}

export interface ChatAdapter<C extends ChatDestination, M> {
  /** The `sink:` value. */
  readonly name: string;
  /** The vendor's name, in come-back messages and logs. */
  readonly vendor: string;
  readonly configSchema: Record<string, unknown>;
  readonly templates: TemplateSpec;
  readonly preview?: SinkPreview;
  readonly can: ChatAbilities;
  /**
   * The state-store prefix of the group record (`<prefix>#<destination>#<group id>`); kept
   * per vendor so that a stack upgraded while groups are open finds their messages.
   */
  readonly groupRecord: string;
  /** Groups the storm digest lists by name. */
  readonly digestListed: number;
  describe?(destination: C): string[];
  /** The vendor for this delivery (reads its secret); throws PermanentError on a bad secret. */
  connect(delivery: Delivery<C>): Promise<ChatChannel<M>>;
  /**
   * The share as messages, each within the vendor's limits, split and never truncated: the
   * group's message first, then its continuations (marked as such).
   */
  render(input: ChatRender<C>): M[];
  /** The storm digest as one message. */
  digest(view: DigestView, destination: C): M;
}
