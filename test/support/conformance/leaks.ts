import { expect } from 'vitest';

/**
 * The secret-leak check, after Alertmanager's AssertNotifyLeaksNoSecret: nothing a delivery
 * leaves behind (the error, its causes, every log line) contains a secret.
 */

/** Message, stack and own fields of an error and of every cause under it. */
export function errorTexts(error: unknown): string[] {
  const texts: string[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 20) {
    const current = queue.shift();
    if (current === undefined || current === null || seen.has(current)) continue;
    seen.add(current);
    if (current instanceof Error) {
      texts.push(current.message, String(current.stack), safeJson(current));
      queue.push(current.cause, ...(current instanceof AggregateError ? current.errors : []));
    } else {
      texts.push(typeof current === 'object' ? safeJson(current) : String(current));
    }
  }
  return texts;
}

/** Fails naming the secret and where it showed, never printing more of the text than needed. */
export function expectNoSecret(where: string, texts: readonly string[], secrets: readonly string[]): void {
  for (const secret of secrets) {
    if (secret === '') continue;
    const found = texts.find((text) => text.includes(secret));
    expect(found === undefined, `${where} contains the secret ${JSON.stringify(secret)}: ${found}`).toBe(
      true,
    );
  }
}

function safeJson(value: object): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}
