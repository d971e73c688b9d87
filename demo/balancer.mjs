#!/usr/bin/env node
import { realpathSync } from 'node:fs';
// A round-robin HTTP load balancer for the demo system and the Docker end-to-end tests.
//
// Like nginx's `proxy_next_upstream error timeout`, a request whose backend refuses the
// connection, resets it or does not send response headers within `backendTimeoutMs` is retried
// on the next backend until every backend was tried once; then the client gets 502 (504 when
// every backend timed out). This is why killing one of three replicas keeps the steady state
// while pausing all of them breaks it.
//
// Library: `startBalancer({ port, host, backends, backendTimeoutMs }) → { port, url, close() }`.
// CLI: `node demo/balancer.mjs --port P --backend 127.0.0.1:A --backend 127.0.0.1:B`, printing
// `{"ready":true,"port":...,"pid":...}` on stdout once it listens.
import { createServer, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// Hop-by-hop headers are meaningful for one connection only (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * @param {string} spec
 * @returns {{ host: string, port: number, label: string }}
 */
function parseBackend(spec) {
  const match = /^(.+):(\d+)$/.exec(spec);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`balancer: backend "${spec}" is not HOST:PORT (for example 127.0.0.1:8081)`);
  }
  const host = match[1].replace(/^\[(.*)\]$/, '$1');
  return { host, port, label: spec };
}

/** @param {import('node:http').IncomingHttpHeaders} headers */
function withoutHopByHop(headers) {
  /** @type {import('node:http').OutgoingHttpHeaders} */
  const out = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(key)) out[key] = value;
  }
  return out;
}

/**
 * Sends one attempt to one backend. Resolves with the backend's response once its headers
 * arrived, or with the reason the attempt failed; never rejects.
 *
 * @param {{ host: string, port: number, label: string }} backend
 * @param {import('node:http').IncomingMessage} req
 * @param {Buffer} body
 * @param {number} timeoutMs
 * @returns {Promise<{ ok: true, res: import('node:http').IncomingMessage, upstream: import('node:http').ClientRequest } | { ok: false, reason: 'error' | 'timeout', message: string }>}
 */
function attempt(backend, req, body, timeoutMs) {
  return new Promise((resolve) => {
    let settled = false;
    const headers = withoutHopByHop(req.headers);
    headers.host = backend.label;
    headers['content-length'] = String(body.length);
    // No keep-alive pool: a connection to a replica that was since killed or paused must not be
    // reused, each attempt shows the backend's state at that moment.
    const upstream = httpRequest({
      host: backend.host,
      port: backend.port,
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      upstream.destroy();
      resolve({ ok: false, reason: 'timeout', message: `no response within ${timeoutMs} ms` });
    }, timeoutMs);
    upstream.on('response', (res) => {
      clearTimeout(timer);
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      resolve({ ok: true, res, upstream });
    });
    upstream.on('error', (err) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve({ ok: false, reason: 'error', message: err.message });
    });
    upstream.end(body);
  });
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<Buffer>}
 */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Starts the balancer and resolves once it listens.
 *
 * @param {{ port?: number, host?: string, backends: string[], backendTimeoutMs?: number }} options
 *   `port` defaults to 0 (any free port), `host` to 127.0.0.1, `backendTimeoutMs` (time until a
 *   backend's response headers) to 300.
 * @returns {Promise<{ port: number, url: string, close: () => Promise<void> }>}
 */
export async function startBalancer({ port = 0, host = '127.0.0.1', backends, backendTimeoutMs = 300 }) {
  if (!Array.isArray(backends) || backends.length === 0) {
    throw new Error('balancer: at least one backend (HOST:PORT) is required');
  }
  if (!Number.isFinite(backendTimeoutMs) || backendTimeoutMs <= 0) {
    throw new Error(`balancer: backendTimeoutMs must be a positive number, got ${backendTimeoutMs}`);
  }
  const pool = backends.map(parseBackend);
  let next = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`balancer: ${err instanceof Error ? err.message : String(err)}\n`);
      } else {
        res.destroy();
      }
    });
  });

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  async function handle(req, res) {
    const body = await readBody(req);
    const start = next;
    next = (next + 1) % pool.length;
    /** @type {string[]} */
    const failures = [];
    let timeouts = 0;
    for (let i = 0; i < pool.length; i++) {
      const backend = /** @type {{ host: string, port: number, label: string }} */ (
        pool[(start + i) % pool.length]
      );
      const result = await attempt(backend, req, body, backendTimeoutMs);
      if (!result.ok) {
        if (result.reason === 'timeout') timeouts++;
        failures.push(`${backend.label}: ${result.message}`);
        continue;
      }
      const { res: upstreamRes, upstream } = result;
      const headers = withoutHopByHop(upstreamRes.headers);
      headers['x-upstream'] = backend.label;
      res.writeHead(upstreamRes.statusCode ?? 502, headers);
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      return;
    }
    const status = timeouts === pool.length ? 504 : 502;
    res.writeHead(status, { 'content-type': 'text/plain', 'x-upstream-failures': String(failures.length) });
    res.end(`balancer: all ${pool.length} backends failed (${failures.join('; ')})\n`);
  }

  await new Promise((resolve, reject) => {
    /** @param {NodeJS.ErrnoException} err */
    const onError = (err) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') {
        reject(
          new Error(
            `balancer: port ${port} on ${host} is already in use; stop what listens there or pick another port`,
          ),
        );
      } else {
        reject(new Error(`balancer: cannot listen on ${host}:${port}: ${err.message}`));
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(undefined);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });

  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing;
  return {
    port: actualPort,
    url: `http://${urlHost}:${actualPort}`,
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      backend: { type: 'string', multiple: true, default: [] },
      'backend-timeout': { type: 'string', default: '300' },
    },
    strict: true,
  });
  const balancer = await startBalancer({
    port: Number(values.port),
    host: values.host,
    backends: values.backend,
    backendTimeoutMs: Number(values['backend-timeout']),
  });
  process.stdout.write(`${JSON.stringify({ ready: true, port: balancer.port, pid: process.pid })}\n`);
  const shutdown = () => {
    balancer.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (isMain()) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
