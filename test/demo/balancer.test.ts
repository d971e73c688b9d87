import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

interface Balancer {
  port: number;
  url: string;
  close(): Promise<void>;
}
interface BalancerModule {
  startBalancer(options: {
    port?: number;
    host?: string;
    backends: string[];
    backendTimeoutMs?: number;
  }): Promise<Balancer>;
}

// A non-literal specifier: demo/*.mjs is plain JavaScript without type declarations.
const balancerModule = new URL('../../demo/balancer.mjs', import.meta.url).href;
const { startBalancer } = (await import(balancerModule)) as BalancerModule;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** An HTTP backend answering every request with `name` and echoing the request body. */
async function healthyBackend(name: string): Promise<string> {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () =>
      res.writeHead(200, { 'x-name': name }).end(`${name} ${req.method} ${req.url} ${body}`),
    );
  });
  const port = await listen(server);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `127.0.0.1:${port}`;
}

/** A backend that accepts connections and never answers (like a paused process). */
async function hangingBackend(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  const port = await listen(server);
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `127.0.0.1:${port}`;
}

/** An address where nothing listens (a port that was free a moment ago). */
async function deadBackend(): Promise<string> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

async function balancer(backends: string[], backendTimeoutMs = 200): Promise<Balancer> {
  const lb = await startBalancer({ port: 0, backends, backendTimeoutMs });
  cleanups.push(() => lb.close());
  return lb;
}

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  return { status: res.status, upstream: res.headers.get('x-upstream'), body: await res.text() };
}

describe('demo balancer', () => {
  it('spreads requests round robin', async () => {
    const a = await healthyBackend('a');
    const b = await healthyBackend('b');
    const lb = await balancer([a, b]);
    const upstreams = [];
    for (let i = 0; i < 4; i++) upstreams.push((await get(`${lb.url}/x`)).upstream);
    expect(upstreams).toEqual([a, b, a, b]);
  });

  it('retries past a dead and a hanging backend', async () => {
    const dead = await deadBackend();
    const hanging = await hangingBackend();
    const healthy = await healthyBackend('ok');
    const lb = await balancer([dead, hanging, healthy]);
    for (let i = 0; i < 3; i++) {
      const res = await get(`${lb.url}/health?i=${i}`);
      expect(res).toEqual({ status: 200, upstream: healthy, body: `ok GET /health?i=${i} ` });
    }
  });

  it('replays the request body on the next backend', async () => {
    const dead = await deadBackend();
    const healthy = await healthyBackend('ok');
    const lb = await balancer([dead, healthy]);
    const res = await get(`${lb.url}/orders`, { method: 'POST', body: 'one book' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok POST /orders one book');
  });

  it('answers 502 when every backend is dead', async () => {
    const lb = await balancer([await deadBackend(), await deadBackend(), await deadBackend()]);
    const res = await get(lb.url);
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/^balancer: all 3 backends failed \(.*ECONNREFUSED/);
  });

  it('answers 504 when every backend timed out', async () => {
    const lb = await balancer([await hangingBackend(), await hangingBackend()], 100);
    const res = await get(lb.url);
    expect(res.status).toBe(504);
    expect(res.body).toContain('no response within 100 ms');
  });

  it('answers 502 when backends failed in different ways', async () => {
    const lb = await balancer([await hangingBackend(), await deadBackend()], 100);
    expect((await get(lb.url)).status).toBe(502);
  });

  it('passes the backend status through', async () => {
    const server = createHttpServer((_req, res) => res.writeHead(503).end('down'));
    const port = await listen(server);
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const lb = await balancer([`127.0.0.1:${port}`]);
    expect(await get(lb.url)).toEqual({ status: 503, upstream: `127.0.0.1:${port}`, body: 'down' });
  });

  it('rejects bad backends and a port in use with clear messages', async () => {
    await expect(startBalancer({ backends: [] })).rejects.toThrow('at least one backend');
    await expect(startBalancer({ backends: ['localhost'] })).rejects.toThrow(
      'backend "localhost" is not HOST:PORT',
    );
    const lb = await balancer([await deadBackend()]);
    await expect(startBalancer({ port: lb.port, backends: ['127.0.0.1:1'] })).rejects.toThrow(
      `port ${lb.port} on 127.0.0.1 is already in use`,
    );
  });
});
