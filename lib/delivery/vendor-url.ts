import { PermanentError } from './errors.ts';

/**
 * The one check of a vendor URL the relay calls (a webhook URL from a secret, a base URL or
 * destination URL from config): parsed, http(s) only, no user-info. It throws a PermanentError
 * (the URL will not fix itself) that names `what` (the secret's name, the config field) and the
 * host at most, never the URL: webhook URLs carry their credential in the path or the query.
 *
 * @example
 * checkedHttpUrl(secret, 'discord: the URL in secret DISCORD_URL') // URL, or PermanentError
 */
export function checkedHttpUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new PermanentError(`${what} is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new PermanentError(`${what} (host ${url.host || 'none'}) must be http or https`);
  if (url.username || url.password)
    throw new PermanentError(`${what} (host ${url.host}) must not contain credentials`);
  return url;
}
