/**
 * The one check every link the relay renders goes through. A generatorURL, externalURL or
 * runbook_url comes from whoever wrote the alert rule, so it is parsed, not trusted: only
 * http(s), no user-info (a credential shown in a chat is a leaked credential), and short
 * enough for every vendor we link from (Slack's button url holds 3000 characters).
 */

/** Longest URL the relay links to by default: Slack's button `url` limit. */
export const MAX_URL_LENGTH = 3000;

export interface SafeUrlOptions {
  /** Longest href accepted, after normalisation (default 3000). */
  maxLength?: number;
}

/**
 * The normalised href of an http(s) URL, or undefined when it is anything else: not a URL,
 * another scheme (`javascript:`, `slack:`, `mailto:`), credentials in it, no host, or too
 * long. Normalising through WHATWG URL percent-encodes spaces, quotes, `<`, `>` and
 * backticks, so the result cannot close the markup it is put into; `|` (Slack's link
 * separator, which WHATWG leaves alone) is encoded as `%7C` too.
 *
 * @example
 * safeHttpUrl('https://prom.example/graph?g0.expr=up >0') // 'https://prom.example/graph?g0.expr=up%20%3E0'
 * safeHttpUrl('javascript:alert(1)')                    // undefined
 */
export function safeHttpUrl(raw: string | undefined, options: SafeUrlOptions = {}): string | undefined {
  const maxLength = options.maxLength ?? MAX_URL_LENGTH;
  if (typeof raw !== 'string' || raw === '' || raw.length > maxLength * 3) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || url.hostname === '') return undefined;
  // WHATWG leaves these in the query and fragment; each closes or splits some markup we build.
  const href = url.href.replace(/[|'"`<>\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return href.length <= maxLength ? href : undefined;
}
