/**
 * Parsing of the HTTP `Retry-After` header (RFC 9110 section 10.2.3), shared by every sink
 * that talks HTTP. Slack, Sentry, Discord, PagerDuty and Standard Webhooks receivers send it
 * with 429 and 503 answers.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// The three HTTP-date forms a recipient must accept: IMF-fixdate, obsolete RFC 850 and asctime.
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const RFC_850 = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const ASCTIME = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/**
 * How many whole seconds to wait, from a `Retry-After` header value: delay-seconds (`120`)
 * or an HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`) measured from `now`.
 *
 * Returns undefined when the header is absent or unparseable, so the caller falls back to
 * its own backoff; a date in the past gives 0. Fractional seconds (`1.5`, not allowed by the
 * RFC but sent by some servers) are rounded up so we never come back early. No upper cap is
 * applied: the caller knows its own limit (SQS visibility timeouts stop at 12 hours).
 *
 * `Date.parse` is deliberately not used: it accepts almost anything (`Date.parse('1')` is a
 * date in 2001), which would turn a malformed header into a nonsense delay.
 */
export function parseRetryAfter(
  header: string | null | undefined,
  now: Date | number = Date.now(),
): number | undefined {
  if (header == null) return undefined;
  const value = header.trim();
  if (value === '') return undefined;

  if (/^\d+(\.\d+)?$/.test(value)) {
    const seconds = Math.ceil(Number(value));
    return Number.isFinite(seconds) ? seconds : undefined;
  }

  const date = parseHttpDate(value);
  if (date === undefined) return undefined;
  const nowMs = typeof now === 'number' ? now : now.getTime();
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/** Milliseconds since the epoch of an HTTP-date, or undefined if it is not one. */
export function parseHttpDate(value: string): number | undefined {
  let match = IMF_FIXDATE.exec(value);
  if (match) {
    const [, day, month, year, hour, minute, second] = match;
    return utc(Number(year), month, Number(day), hour, minute, second);
  }
  match = RFC_850.exec(value);
  if (match) {
    const [, day, month, yy, hour, minute, second] = match;
    // Two-digit years: RFC 9110 says to read a year more than 50 years ahead as the past
    // century; pivoting at 70 is the same for every date this code will ever see.
    const year = Number(yy) < 70 ? 2000 + Number(yy) : 1900 + Number(yy);
    return utc(year, month, Number(day), hour, minute, second);
  }
  match = ASCTIME.exec(value);
  if (match) {
    const [, month, day, hour, minute, second, year] = match;
    return utc(Number(year), month, Number(day.trim()), hour, minute, second);
  }
  return undefined;
}

function utc(
  year: number,
  monthName: string,
  day: number,
  hh: string,
  mm: string,
  ss: string,
): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  const hour = Number(hh);
  const minute = Number(mm);
  const second = Number(ss);
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  // Date.UTC rolls 31 Feb over into March; a date that does not round-trip is not a date.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}
