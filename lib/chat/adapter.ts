import type { Notification } from '../alertmanager/types.ts';
import type { DestinationConfig } from '../config/types.ts';
import { PermanentError } from '../delivery/errors.ts';
import type { StepJournal } from '../delivery/journal.ts';
import type { Pace } from '../delivery/pacing.ts';
import type { Delivery, SinkPreview } from '../delivery/sink.ts';
import type { TemplateSpec } from '../templates/destination.ts';
import type { DigestView } from './storm/run.ts';
import type { GroupEntry } from './storm/tally.ts';

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
  /**
   * The destination's `title` and `text` templates for this delivery, rendered and escaped for
   * the vendor's format (absent when not set); `notes` name those that failed.
   */
  templated: ChatTemplated;
  now: number;
  /**
   * 0, then 1, 2... each time the vendor refused a message of this render as too long
   * (ChatTooLongError): the adapter renders smaller at each step (Slack halves its text budget),
   * up to `ChatAdapter.shrinks`. Kept in the delivery's journal, so a retry builds the same split.
   */
  shrink: number;
}

/** A chat destination's templates, rendered: every chat sink takes `title` and `text`. */
export interface ChatTemplated {
  title?: string;
  text?: string;
  notes: string[];
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
  /** Which message of the delivery's list this is (0 first); absent for the storm digest and the change reply. */
  index?: number;
  /** The storm's state a digest post shows; absent for a group's message. */
  digest?: DigestView;
}

/** What the vendor answered a post with. */
export interface ChatPosted {
  /** The message's id, when the vendor says it (needed to edit, remove or thread under it). */
  id?: string;
}

/**
 * The vendor refused a message as too long (Slack's msg_blocks_too_long): thrown by `post` or
 * `edit` so that the stage renders the group again, smaller (ChatRender.shrink). Where the
 * adapter cannot shrink any further it reaches the record handler as what it is, a
 * PermanentError with the vendor's message.
 */
export class ChatTooLongError extends PermanentError {
  constructor(message: string, options: { statusCode?: number; cause?: unknown } = {}) {
    super(message, options);
    this.name = 'ChatTooLongError';
  }
}

/** The vendor for one delivery: its calls and the budget they are paced in. */
export interface ChatChannel<M> {
  /**
   * The pacing budget the calls share with every other delivery into the same channel: its
   * state-store key, its pace, and what a come-back message calls it ("Discord webhook pacing").
   */
  readonly budget: {
    key: string;
    pace: Pace;
    what: string;
    /**
     * Whether edits take a turn in the budget too (default true). false where the vendor's pace
     * is its posts' only (Slack's one message a second per channel is chat.postMessage's;
     * chat.update has a limit of its own, per workspace).
     */
    edits?: boolean;
  };
  /** Names the channel in logs (a host, a channel id): never a secret. */
  readonly label: string;
  /**
   * Where the messages live (Slack's channel id), for a vendor whose message ids mean something
   * only there: the group record keeps it, and a record from anywhere else is not the group's
   * (the destination moved: the group starts over where it posts now).
   */
  readonly where?: string;
  post(message: M, options: ChatPost): Promise<ChatPosted>;
  /**
   * Looks up the message an interrupted post may have created, by its ChatPost `key`, among
   * the messages from a little before `since` (epoch ms) on, in `thread` when it was a reply.
   * With `find`, the stage records each post's intent before making it, and a retry that finds
   * an intent without a result asks here instead of posting again. 'unreadable': the vendor
   * would not list the messages (a missing scope), so the stage warns and posts again.
   */
  find?(key: string, options: { since: number; thread?: string }): Promise<string | undefined | 'unreadable'>;
  /** Edits message `id`; 'gone' when the vendor no longer has it (someone deleted it). */
  edit?(id: string, message: M): Promise<'edited' | 'gone'>;
  /** Removes message `id`; a message already gone is not an error. */
  remove?(id: string): Promise<void>;
}

/** A group's record in the state store: its messages and what the stage needs to know of its last notification. */
export interface ChatGroupRecord {
  /** The group's messages, first one first (its id is the group's thread). */
  messages?: string[];
  status?: 'firing' | 'resolved';
  /** Where the messages live (ChatChannel.where), when the vendor says. */
  where?: string;
  /** Each alert's status as of the last notification (fingerprint -> status), for `change`; only where the adapter has one. */
  alerts?: Record<string, 'firing' | 'resolved'>;
  /** With storm mode on: the group's share of a storm digest as of its last notification, read if it starts a storm. */
  entry?: GroupEntry;
  updatedAt?: string;
}

/** What the group's previous notification left: what `change` compares the new one with. */
export interface ChatPrevious {
  status?: 'firing' | 'resolved';
  alerts: Record<string, 'firing' | 'resolved'>;
}

/** How a later notification changes a group that has messages (ChatAdapter.updates). */
export interface ChatUpdates {
  /**
   * Edit the group's messages to its new state (for a vendor that can edit). false: they stay as
   * first posted, and a later notification adds only its change reply.
   */
  edit: boolean;
  /** Reply in the group's thread with what changed (ChatAdapter.change). */
  reply: boolean;
  /** A group that resolved and fires again gets new messages; false: it keeps its old ones. */
  newAfterResolve: boolean;
}

/** What `after` gets, once the delivery's messages are out. */
export interface ChatAfter<C extends ChatDestination, K> {
  delivery: Delivery<C>;
  /** The vendor for this delivery, as `connect` made it. */
  channel: K;
  /** The group's thread (the id of its first message), for a vendor that threads. */
  thread?: string;
  /** This delivery posted the group's message new (its first notification, or again after a resolve). */
  started: boolean;
  /** The delivery's step journal: what `after` does once across retries. */
  journal: StepJournal;
  /** Waits (in the queue) for call `step`'s turn in the channel's budget. */
  paced(step: string): Promise<void>;
}

export interface ChatAdapter<C extends ChatDestination, M, K extends ChatChannel<M> = ChatChannel<M>> {
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
  connect(delivery: Delivery<C>): Promise<K>;
  /**
   * The share as messages, each within the vendor's limits, split and never truncated: the
   * group's message first, then its continuations (marked as such).
   */
  render(input: ChatRender<C>): M[];
  /** The storm digest as one message. */
  digest(view: DigestView, destination: C): M;
  /**
   * How many times `render` can make the messages smaller (ChatRender.shrink) after the vendor
   * refused one as too long; absent: never, and a ChatTooLongError is a PermanentError.
   */
  readonly shrinks?: number;
  /**
   * How later notifications change the group's messages. Default: edit them where the vendor
   * can, no change reply, new messages after a resolve.
   */
  updates?(destination: C): ChatUpdates;
  /**
   * The reply saying what changed since `previous` (new alerts, resolved ones, "still firing"),
   * posted in the group's thread after the messages; undefined: nothing worth saying. Called
   * only where `updates` asks for a reply and the group has messages.
   */
  change?(previous: ChatPrevious, notification: Notification, destination: C): M | undefined;
  /** Work after the messages (Slack: the graph, uploaded into the thread of a new firing message). */
  after?(context: ChatAfter<C, K>): Promise<void>;
  /**
   * Reads a group record of an older, vendor-specific shape (Slack's {channel, ts, ...}) as the
   * stage's; undefined when it is in the stage's shape already.
   */
  fromRecord?(stored: object): ChatGroupRecord | undefined;
}
