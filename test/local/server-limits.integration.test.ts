import { once } from 'node:events';
import type { Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IngestHandler } from '../../lib/ingest/ingest.ts';
import { createLocalServer } from '../../lib/local/server.ts';

/**
 * The local server against slow and oversized clients, over raw sockets: slow headers and slow
 * bodies are cut off by the timeouts, and a body over the limit is refused without being read.
 */
describe('Local server: limits', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    }
    server = undefined;
  });

  /**
   * Starts the server (its ingest a spy) and opens a raw connection to it that collects what
   * the server sends until it closes the connection.
   */
  async function connectToServer(options: { maxBodyBytes?: number } = {}) {
    const ingest = vi.fn<IngestHandler>(async () => ({ statusCode: 202, body: '{}' }));
    server = createLocalServer({
      ingest,
      health: () => ({ status: 'ok' }),
      maxBodyBytes: options.maxBodyBytes,
      timeouts: { headersMs: 500, requestMs: 1_000, keepAliveMs: 500 },
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    sockets.push(socket);
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    // Not events.once: it would reject on the EPIPE a refused upload ends with.
    const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
    return { socket, closed, ingest };
  }

  it('should answer 408 and close a connection whose headers never finish', async () => {
    // Prepare
    const { socket, closed, ingest } = await connectToServer();

    // Act
    socket.write('POST /alertmanager HTTP/1.1\r\nHost: relay\r\nContent-Type: appl');
    const received = await closed;

    // Assess
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(ingest).not.toHaveBeenCalled();
  });

  it('should answer 408 and close a connection whose body trickles in past the request timeout', async () => {
    // Prepare
    const { socket, closed, ingest } = await connectToServer();

    // Act
    socket.write(
      'POST /alertmanager HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":',
    );
    // One byte per 100 ms, bounded: the request timeout (1 s) must end it long before 300 bytes.
    const trickle = setInterval(() => socket.writable && socket.write(' '), 100);
    const received = await closed.finally(() => clearInterval(trickle));

    // Assess
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(ingest).not.toHaveBeenCalled();
  });

  it('should refuse a declared oversize body with 413 before a byte of it is sent, and close', async () => {
    // Prepare
    const { socket, closed, ingest } = await connectToServer();

    // Act
    socket.write(
      'POST /alertmanager HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 6291456\r\n\r\n',
    );
    const received = await closed;

    // Assess
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received).toContain('payload too large');
    expect(ingest).not.toHaveBeenCalled();
  });

  it('should stop reading a chunked body at the limit, answer 413 and drop the connection', async () => {
    // Prepare
    const limit = 1024 * 1024;
    const { socket, closed, ingest } = await connectToServer({ maxBodyBytes: limit });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const total = 256 * chunk.length;

    // Act
    socket.write(
      'POST /alertmanager HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    let sent = 0;
    const pump = async () => {
      for (let i = 0; i < 256 && !socket.destroyed; i++) {
        const ok =
          socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n');
        sent += chunk.length;
        if (!ok) await Promise.race([once(socket, 'drain'), once(socket, 'close')]).catch(() => undefined);
      }
    };
    await Promise.all([pump(), closed]);
    const received = await closed;

    // Assess
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(total);
    expect(ingest).not.toHaveBeenCalled();
  });
});
