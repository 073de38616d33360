import type { Notification } from '../alertmanager/types.ts';
import type { DestinationConfig } from '../config/types.ts';
import type { StateStore } from '../state/store.ts';
import type { TemplateSpec } from '../templates/destination.ts';

/** Reads a secret by NAME (a config field ending in `Secret` holds that name). */
export interface SecretReader {
  /** Throws PermanentError when the secret does not exist. */
  get(name: string): Promise<string>;
}

/** What a sink may log. Never pass a secret. */
export interface SinkLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Everything a sink gets for one delivery. */
export interface Delivery<C extends DestinationConfig = DestinationConfig> {
  destination: C;
  /** The notification with only this destination's alerts (one part of it, if it was split). */
  notification: Notification;
  /** Stable across SQS redelivery, DLQ redrive and duplicate posts: use it as the vendor's idempotency key. */
  idempotencyKey: string;
  /** Which part of a notification that was split to fit a queue message (1 of 1 when not split). */
  part: { index: number; count: number };
  /** When ingest accepted the notification (ISO 8601). */
  receivedAt: string;
  /** 1 on the first attempt: failed attempts the relay counted for this message, plus one. */
  attempt: number;
  /**
   * Set only for an event-log sink (`kind: 'event-log'`), when a newer notification of the same
   * group was applied before this one (a DLQ redrive of an old message): the receiver must see
   * that this is history, not the group's current state. `by` is the newer one's receivedAt.
   */
  superseded?: { by: string };
  secrets: SecretReader;
  state: StateStore;
  /**
   * The group's record as the record handler read it before this delivery, and the delivery's
   * journal. Absent when a sink is called without the handler (preview, a sink's own tests): the
   * journal then keeps each step in its own item (lib/delivery/journal.ts standaloneGroup).
   */
  group?: DeliveryGroup;
  logger: SinkLogger;
  /** Counts a sink's own event as a metric with this destination's dimensions (e.g. a graph skipped). */
  count?(name: SinkMetricName, value?: number): void;
}

/**
 * The step journal of one delivery: what it already did, so that a retry of the same message does
 * not do it again (lib/delivery/journal.ts).
 */
export interface StepJournal {
  /** What `step` recorded, if anything. */
  get<T extends object>(step: string): Promise<T | undefined>;
  /** Records `step` (overwrites): an intent before a vendor call, or its result after it. */
  record(step: string, value: object): Promise<void>;
  /**
   * Runs `action` unless `step` is already recorded, then records what it returned. Resolves
   * with the recorded value and whether this call ran it. A throw records nothing, so the
   * retry runs the step again.
   */
  once<T extends object>(step: string, action: () => Promise<T>): Promise<{ value: T; ran: boolean }>;
}

/**
 * A delivery's share of its group's record (lib/delivery/group-state.ts GroupRecord): read once
 * by the record handler before the delivery, written once after it with the delivery's outcome.
 */
export interface DeliveryGroup {
  /** What the sink kept for the group (undefined: nothing yet). */
  readonly kept: object | undefined;
  /**
   * The group's record was written by an older relay, before it held the sink's part: that part
   * may still be under the sink's own older key (e.g. `slackgroup#...`), to be read once.
   */
  readonly legacy: boolean;
  /**
   * Sets what the sink keeps for the group, at least `ttlSeconds` (the record handler writes it
   * with the delivery's outcome; without the handler it is written at once).
   */
  keep(value: object, options?: { ttlSeconds?: number }): Promise<void>;
  /** The delivery's step journal. */
  readonly journal: StepJournal;
  /**
   * Vendor calls of this delivery may have gone out unrecorded since `since` (epoch ms): an
   * earlier receive crashed or ended without writing what it did. A sink that can look its
   * calls up (ChatChannel.find) does so before making one again, until `settle`.
   */
  readonly unsure: boolean;
  readonly since: number;
  /**
   * The sink looked up the first call not recorded as made and found it was not made: calls go
   * out in order, so nothing later went out either, and this delivery is sure again.
   */
  settle(): void;
}

/** The identity and content of one delivery: what a storm keeps and sends again after calm. */
export type DeliveryShare = Pick<Delivery, 'notification' | 'idempotencyKey' | 'part' | 'receivedAt'>;

/**
 * What the delivery core gives a pipeline stage (the chat stage, lib/chat) beside the Delivery.
 * A vendor adapter never sees it, and nothing in it is a queue message: the core alone turns a
 * share into one (lib/queue/message.ts).
 */
export interface DeliveryPipeline {
  /** Set when this delivery is a storm's backfill: the id of the storm that folded its group. */
  readonly backfillOf?: string;
  /** Set by `npm run preview`: nothing reaches a vendor, so no call waits for its turn in a pace. */
  readonly preview?: true;
  /**
   * Puts each share back on this sink's own queue as storm `stormId`'s backfill, in its group's
   * order. Resolves once the queue accepted every one; a resend is absorbed by the queue's
   * deduplication and by the group's state.
   */
  backfill(shares: readonly DeliveryShare[], stormId: string): Promise<void>;
}

/** Metrics a sink may count itself; the record handler counts deliveries, retries and dead letters. */
export type SinkMetricName =
  | 'GraphsSkipped'
  | 'TemplateFailed'
  | 'StormStarted'
  /** A storm calmed down: its digest shows the final summary (lib/chat/storm/run.ts). */
  | 'StormEnded'
  /** A storm's digest message was first posted. */
  | 'DigestPosted'
  | 'GroupsFolded'
  | 'GroupsBackfilled';

/**
 * A kind of destination. One folder per sink in lib/sinks/<name>/, registered in lib/sinks/registry.ts.
 * `deliver` resolves when the vendor acknowledged, or throws RetryableError / PermanentError
 * (anything else thrown counts as retryable).
 */
export interface Sink<C extends DestinationConfig = DestinationConfig> {
  /** The `sink:` value in the config, and the name of its queue, Lambda and DLQ. */
  readonly name: string;
  /**
   * `lifecycle`: the vendor shows the group's current state (a Slack message, a PagerDuty
   * incident, a Sentry issue), so a message older than the group's last applied one is skipped
   * (counted as Superseded). `event-log`: the receiver keeps every notification (a webhook, the
   * console), so an older one is still delivered, marked with `superseded`. Every new vendor
   * with open/resolved state is `lifecycle`.
   */
  readonly kind: 'lifecycle' | 'event-log';
  /**
   * JSON schema (draft 2020-12 subset that ajv understands) for the destination's own
   * fields; `name`, `sink` and `matchers` are checked by the common schema. Use
   * `additionalProperties: false` so a typo fails at start.
   */
  readonly configSchema: Record<string, unknown>;
  /** The destination template keys it renders and their output format (lib/templates). */
  readonly templates?: TemplateSpec;
  /** What `npm run preview` needs to run it without an account (lib/ops/preview.ts). */
  readonly preview?: SinkPreview;
  /**
   * Delivers one message. `pipeline` is for a stage that needs the core beyond the delivery
   * (the chat stage's storm backfill); a plain sink ignores it.
   */
  deliver(delivery: Delivery<C>, pipeline?: DeliveryPipeline): Promise<void>;
  /** Optional: things to say once at start about a destination (e.g. "resolves are off"). */
  describe?(destination: C): string[];
}

/** How preview stands in for a sink's account: secrets shaped like the real ones, the vendor's answers. */
export interface SinkPreview {
  /**
   * A placeholder for the secret in config field `field`, shaped like what the sink expects
   * there (a webhook URL, a DSN) with `token` where the credential would be. Default: `token`.
   */
  secret?(field: string, token: string): string;
  /** A plausible successful answer of the vendor to a request for `url`. Default: 200 with no body. */
  answer?(url: URL, method: string): { status: number; body: unknown };
  /** A copy of the sink that prints into the preview instead of where it would print (the console). */
  printing?(write: (text: string) => void): Sink;
  /** More lines to show under a request's body (Slack: a Block Kit Builder link). */
  explain?(body: string): string[];
}
