import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openSqliteDatabase } from '../lib/queue/sqlite-queue.ts';

// The durable floor of the throughput figure: bench/bare-server.ts plus one node:sqlite insert
// of the body per request, opened as the relay opens its queue (WAL, synchronous=NORMAL) and
// committed as the relay commits (every request of one event-loop turn in one transaction, each
// answered 202 after that commit). No parsing, routing, dedup or delivery: what any ingest that
// survives a kill -9 after its 202 has to pay at least. Its data dir is the first argument.
const db = openSqliteDatabase(join(process.argv[2] ?? '.', 'floor.sqlite'));
db.exec('CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)');
const insert = db.prepare('INSERT INTO messages (body) VALUES (?)');

let pending: { body: string; res: ServerResponse }[] = [];

function flush(): void {
  const batch = pending;
  pending = [];
  db.exec('BEGIN IMMEDIATE');
  for (const { body } of batch) insert.run(body);
  db.exec('COMMIT');
  for (const { res } of batch) {
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"accepted":true}');
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    pending.push({ body: Buffer.concat(chunks).toString('utf8'), res });
    if (pending.length === 1) setImmediate(flush);
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
});
process.once('SIGTERM', () =>
  server.close(() => {
    db.close();
    process.exit(0);
  }),
);
