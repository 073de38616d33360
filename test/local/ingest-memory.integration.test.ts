import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lib/ingest/ingest.ts';
import { MAX_IN_FLIGHT_BODY_BYTES } from '../../lib/local/server.ts';
import { useLocalRelay } from '../support/local-relay.ts';
import { makeNotification } from '../support/notifications.ts';

const TOKEN = 'ingest-token-for-memory-tests';
const FIVE_MIB = 5 * 1024 * 1024;

/**
 * Attack 4 of issue 10 against the running local relay: bodies cost memory only once the caller
 * has shown the token, and never more than the in-flight budget across all connections.
 */
describe('Local runtime: request bodies and memory', () => {
  const local = useLocalRelay('ingest-memory');
  const sockets: Socket[] = [];

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  /**
   * Opens a raw connection and sends the headers of a POST that declares `length` bytes, and no
   * body. `response` resolves with the status line and headers, as soon as the relay answers.
   */
  async function startUpload(url: string, length: number, authorization?: string) {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    sockets.push(socket);
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    let received = '';
    const response = new Promise<string>((resolve) => {
      const onData = (chunk: Buffer) => {
        received += chunk.toString('latin1');
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        resolve(received.slice(0, end));
      };
      socket.on('data', onData);
      socket.on('close', () => resolve(received));
    });
    socket.write(
      [
        'POST /alertmanager HTTP/1.1',
        'Host: relay',
        'Content-Type: application/json',
        `Content-Length: ${length}`,
        ...(authorization ? [`Authorization: ${authorization}`] : []),
        '',
        '',
      ].join('\r\n'),
    );
    return { socket, response };
  }

  it('should answer 401 to a wrong or missing token before a byte of the body arrives', async () => {
    // Prepare
    const relay = await local.start({ token: TOKEN, destinations: [{ name: 'stdout', sink: 'console' }] });

    // Act
    const missing = await startUpload(relay.url, FIVE_MIB);
    const wrong = await startUpload(relay.url, FIVE_MIB, 'Bearer not-the-token');
    const answers = await Promise.all([missing.response, wrong.response]);

    // Assess
    expect(answers.map((a) => a.split('\r\n')[0])).toEqual([
      'HTTP/1.1 401 Unauthorized',
      'HTTP/1.1 401 Unauthorized',
    ]);
    expect(answers[0]).toMatch(/\r\nwww-authenticate: Bearer realm="alertmanager-relay"/i);
    expect(answers[0]).toMatch(/\r\nconnection: close/i);
    expect(relay.telemetry.get('NotificationsRejected')).toBe(2);
  });

  it('should refuse 400 unauthenticated uploads declaring 5 MiB each without holding any of them against the budget', async () => {
    // Prepare
    const relay = await local.start({ token: TOKEN, destinations: [{ name: 'stdout', sink: 'console' }] });
    const uploads = [];
    for (let i = 0; i < 400; i++) uploads.push(await startUpload(relay.url, FIVE_MIB, 'Bearer wrong'));
    await Promise.all(uploads.map((u) => u.response));

    // Act
    const response = await relay.post(makeNotification({}));

    // Assess
    expect(response.status).toBe(202);
  });

  it('should answer 503 with Retry-After past the in-flight budget, and take requests again once bodies are done', async () => {
    // Prepare: authenticated uploads that declare the largest body each and send nothing yet hold the budget.
    const relay = await local.start({ token: TOKEN, destinations: [{ name: 'stdout', sink: 'console' }] });
    const fit = Math.floor(MAX_IN_FLIGHT_BODY_BYTES / MAX_BODY_BYTES);
    const held = [];
    for (let i = 0; i < fit; i++) held.push(await startUpload(relay.url, MAX_BODY_BYTES, `Bearer ${TOKEN}`));

    // Act
    const over = await startUpload(relay.url, MAX_BODY_BYTES, `Bearer ${TOKEN}`);
    const refused = await over.response;
    // One upload finishes (an invalid body: 400), which gives its bytes back.
    held[0].socket.write(Buffer.alloc(MAX_BODY_BYTES, 0x20));
    const finished = await held[0].response;
    const after = await relay.post(makeNotification({}));

    // Assess
    expect(refused.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
    expect(refused).toMatch(/\r\nretry-after: 1/i);
    expect(finished.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(after.status).toBe(202);
  });
});
