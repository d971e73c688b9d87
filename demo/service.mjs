#!/usr/bin/env node
// A tiny HTTP replica for the demo system: `node demo/service.mjs --port P --name N`.
// It prints one JSON line `{"ready":true,"port":...,"pid":...}` on stdout once it listens.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    name: { type: 'string', default: `replica-${process.pid}` },
  },
  strict: true,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`service: --port must be an integer between 0 and 65535, got "${values.port}"`);
  process.exit(2);
}
const name = values.name;

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n');
    return;
  }
  if (path === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-replica': name }).end(`ok ${name}\n`);
    return;
  }
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-replica': name }).end(`hello from ${name}\n`);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain', 'x-replica': name }).end('not found\n');
});

server.on('error', (err) => {
  console.error(`service ${name}: cannot listen on ${values.host}:${port}: ${err.message}`);
  process.exit(1);
});

server.listen(port, values.host, () => {
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  process.stdout.write(`${JSON.stringify({ ready: true, port: actualPort, pid: process.pid })}\n`);
});

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  // A client holding a connection open must not keep the replica alive.
  setTimeout(() => process.exit(0), 1_000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
