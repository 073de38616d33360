/**
 * Failed attempts of one accepted message, counted by the relay instead of read from SQS's
 * receive count: a record that waits (a deferral, a vendor's rate limit, a group-mate ahead of it
 * handed back, the function's time running out) is received again without having failed, and
 * must not move closer to the DLQ for it. The count lives in the group's record, in the message's
 * pending entry (lib/delivery/group-state.ts PendingDelivery: destination, content key,
 * receivedAt), which survives redelivery and a renewal (a fresh copy of the same body); an attempt
 * that crashed or timed out the function counts too, found by its marker
 * (lib/delivery/group-session.ts). A dead-lettered message's count is cleared, so a redrive starts
 * again from the first attempt.
 */
export interface AttemptRecord {
  /** Failed attempts so far. */
  failures: number;
  /** When the first of them failed (ISO 8601). */
  firstFailureAt: string;
}
