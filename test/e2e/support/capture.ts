import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One webhook Alertmanager posted, exactly as it arrived. */
export interface CapturedPost {
  headers: IncomingHttpHeaders;
  /** The raw body text (fixtures are written from this, not from a re-serialisation). */
  body: string;
  json: { status: string; groupKey: string; alerts: unknown[]; [field: string]: unknown };
}

export interface Capture {
  url: string;
  posts: CapturedPost[];
  /** Resolves with the first post (already received or still to come) that matches. */
  waitFor(match: (post: CapturedPost) => boolean): Promise<CapturedPost>;
  close(): Promise<void>;
}

/**
 * A second webhook of the same Alertmanager receiver, beside the relay: it records what
 * Alertmanager sends (the same notification the relay gets) and always answers 200. It does
 * not verify anything; the signed deliveries go to test/support/webhook-receiver.ts.
 */
export async function startCapture(): Promise<Capture> {
  const posts: CapturedPost[] = [];
  const waiters = new Set<{
    match: (post: CapturedPost) => boolean;
    resolve: (post: CapturedPost) => void;
  }>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const post = { headers: request.headers, body, json: JSON.parse(body) };
      posts.push(post);
      response.writeHead(200).end();
      for (const waiter of waiters) {
        if (waiter.match(post)) {
          waiters.delete(waiter);
          waiter.resolve(post);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alertmanager`,
    posts,
    waitFor(match) {
      const seen = posts.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
