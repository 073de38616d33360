import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// The baseline server: node:http on the same Node, reading the body and answering 202 with a
// small JSON body, nothing else. Also the sink the relay delivers to in the throughput figure.
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"accepted":true}');
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
