import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeFaultProxyConfig,
  encodeFaultProxyConfig,
  FaultProxy,
  type FaultProxyBehaviour,
  type FaultProxyConfigInput,
  faultProxyConfigSchema,
  parseFaultProxyConfig,
  verifyAnswer,
  verifyRequest,
} from './fault-proxy.js';

const HOST = '127.0.0.1';
const TOKEN = '0123456789abcdef';

const servers: Server[] = [];
const sockets = new Set<Socket>();
const proxies: FaultProxy[] = [];

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()));
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))),
  );
});

function track(socket: Socket): Socket {
  sockets.add(socket);
  socket.on('error', () => undefined);
  socket.once('close', () => sockets.delete(socket));
  return socket;
}

/** A server on 127.0.0.1:0; `accepted` lists its connections. */
async function startServer(onConnection: (socket: Socket) => void = () => undefined) {
  const accepted: Socket[] = [];
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    accepted.push(track(socket));
    onConnection(socket);
  });
  servers.push(server);
  server.listen(0, HOST);
  await once(server, 'listening');
  return { server, accepted, port: (server.address() as AddressInfo).port };
}

function startEcho() {
  return startServer((socket) => socket.pipe(socket));
}

/** A port nothing listens on: bound, then closed. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function dial(port: number, allowHalfOpen = false): Promise<Socket> {
  const socket = track(connect({ host: HOST, port, noDelay: true, allowHalfOpen }));
  await once(socket, 'connect');
  return socket;
}

/** Resolves with exactly `n` bytes read from `socket`, or rejects after `timeoutMs`. */
function readBytes(socket: Socket, n: number, timeoutMs = 5_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => {
      socket.off('data', onData);
      reject(new Error(`read ${got} of ${n} bytes within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got < n) return;
      clearTimeout(timer);
      socket.off('data', onData);
      const all = Buffer.concat(chunks);
      if (all.length > n) socket.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    socket.on('data', onData);
  });
}

/** Everything `socket` sends until it ends or closes. */
function readAll(socket: Socket, timeoutMs = 5_000): Promise<{ data: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    const timer = setTimeout(() => reject(new Error(`no close within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      ended = true;
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ended });
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ended });
    });
  });
}

async function startProxy(
  upstreamPort: number,
  behaviour: FaultProxyBehaviour | { kind: 'latency'; delayMs: number },
  deadline = Date.now() + 60_000,
): Promise<{ proxy: FaultProxy; port: number }> {
  const parsed = parseFaultProxyConfig({
    deadline,
    verifyToken: TOKEN,
    listeners: [{ listen: { host: HOST, port: 0 }, upstream: { host: HOST, port: upstreamPort }, behaviour }],
  } satisfies FaultProxyConfigInput);
  if (!parsed.ok) throw new Error(parsed.error);
  const proxy = new FaultProxy(parsed.config);
  proxies.push(proxy);
  const [port] = await proxy.start();
  if (port === undefined) throw new Error('no port');
  return { proxy, port };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

describe('config', () => {
  const good = {
    deadline: 1_900_000_000_000,
    verifyToken: TOKEN,
    listeners: [
      {
        listen: { host: '0.0.0.0', port: 0 },
        upstream: { host: '10.0.0.5', port: 80 },
        behaviour: { kind: 'latency', delayMs: 100, jitterMs: 10 },
      },
    ],
  };

  it('round-trips through base64url', () => {
    const decoded = decodeFaultProxyConfig(encodeFaultProxyConfig(good as FaultProxyConfigInput));
    expect(decoded).toEqual({ ok: true, config: good });
  });

  it('names the offending field of a bad config', () => {
    const bad = structuredClone(good) as Record<string, unknown> & typeof good;
    (bad.listeners[0] as Record<string, unknown>).extra = 1;
    (bad.listeners[0]?.behaviour as Record<string, unknown>).kind = 'slow';
    const decoded = parseFaultProxyConfig(bad);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.error).toMatch(/^config: /);
    expect(decoded.error).toContain('listeners[0].behaviour.kind');
    expect(decoded.error).toContain('listeners[0]: Unrecognized key');
  });

  it('rejects a token that is not hex, an upstream port 0 and an empty listener list', () => {
    expect(faultProxyConfigSchema.safeParse({ ...good, verifyToken: 'xyz' }).success).toBe(false);
    expect(faultProxyConfigSchema.safeParse({ ...good, listeners: [] }).success).toBe(false);
    const port0 = structuredClone(good);
    (port0.listeners[0] as { upstream: { port: number } }).upstream.port = 0;
    expect(faultProxyConfigSchema.safeParse(port0).success).toBe(false);
  });

  it('says so when the argument is not base64url JSON', () => {
    expect(decodeFaultProxyConfig('!!!')).toEqual({ ok: false, error: 'config: not base64url-encoded JSON' });
  });
});

describe('latency', () => {
  it('adds the delay to each request/response round trip', async () => {
    const upstream = await startEcho();
    const { proxy, port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 100, jitterMs: 0 });
    const client = await dial(port);
    const ping = Buffer.alloc(64, 1);
    const rtts: number[] = [];
    for (let i = 0; i < 21; i += 1) {
      const t0 = performance.now();
      client.write(ping);
      await readBytes(client, ping.length);
      // The first one also dials the upstream.
      if (i > 0) rtts.push(performance.now() - t0);
    }
    expect(median(rtts)).toBeGreaterThanOrEqual(90);
    expect(median(rtts)).toBeLessThanOrEqual(110);
    // Every delayed chunk went through the timer queue and was counted.
    expect(proxy.lateness.count).toBeGreaterThanOrEqual(21);
  });

  it('keeps byte order under jitter', async () => {
    const upstream = await startEcho();
    const { port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 20, jitterMs: 20 });
    const client = await dial(port);
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i += 1) {
      const chunk = Buffer.from(`chunk ${i};`);
      sent.push(chunk);
      client.write(chunk);
      if (i % 20 === 0) await sleep(2);
    }
    const expected = Buffer.concat(sent);
    expect((await readBytes(client, expected.length)).toString()).toBe(expected.toString());
  });

  it('passes 8 MiB through unchanged at zero delay and propagates half-close both ways', async () => {
    const received: Buffer[] = [];
    const upstream = await startServer((socket) => {
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      // Answers only after the client's end: the client's half-close must arrive.
      socket.on('end', () => socket.end('bye'));
    });
    const { port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 0, jitterMs: 0 });
    const client = await dial(port, true);
    const payload = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    const reply = readAll(client);
    client.end(payload);
    const { data, ended } = await reply;
    expect(ended).toBe(true);
    expect(data.toString()).toBe('bye');
    expect(Buffer.concat(received).equals(payload)).toBe(true);
  });

  it('relays 32 MiB from the upstream intact to a client that reads in fits and starts', async () => {
    const payload = Buffer.alloc(32 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    const upstream = await startServer((socket) => socket.end(payload));
    const { port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 0, jitterMs: 0 });
    const client = await dial(port);
    // Stalls make the proxy's writes to the client pend, the case where its read buffer is lent out.
    let stalls = 0;
    client.on('data', () => {
      if (stalls >= 20 || Math.random() > 0.05) return;
      stalls += 1;
      client.pause();
      setTimeout(() => client.resume(), 5);
    });
    const { data, ended } = await readAll(client, 20_000);
    expect(ended).toBe(true);
    expect(data.length).toBe(payload.length);
    expect(data.equals(payload)).toBe(true);
  });

  it('delays the upstream end too, after the data', async () => {
    const upstream = await startServer((socket) => socket.end('hello'));
    const { port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 100, jitterMs: 0 });
    const t0 = performance.now();
    const client = await dial(port);
    const { data, ended } = await readAll(client);
    expect(data.toString()).toBe('hello');
    expect(ended).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
  });

  it('stops reading the upstream while the client does not read', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024);
    let handedOver = 0;
    const upstream = await startServer((socket) => {
      // Writes only as fast as the proxy reads, so `handedOver` tracks what the proxy took.
      const pump = (): void => {
        while (handedOver < total && !socket.destroyed) {
          handedOver += chunk.length;
          if (!socket.write(chunk)) return;
        }
      };
      socket.on('drain', pump);
      pump();
    });
    const { port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 5, jitterMs: 0 });
    const client = await dial(port);
    client.pause();
    await sleep(1_000);
    // Kernel buffers on both sides plus the proxy's bounded queue, far from all 64 MiB.
    expect(handedOver).toBeGreaterThan(0);
    expect(handedOver).toBeLessThan(24 * 1024 * 1024);
  });
});

describe('bandwidth', () => {
  it('limits each direction to the rate, within 20%', async () => {
    const rate = 200_000;
    const bytes = 200_000;
    let upstreamGot = 0;
    let upstreamDone = 0;
    const upstream = await startServer((socket) => {
      const t0 = performance.now();
      socket.on('data', (chunk: Buffer) => {
        upstreamGot += chunk.length;
        if (upstreamGot >= bytes) upstreamDone = performance.now() - t0;
      });
      socket.write(Buffer.alloc(bytes, 7));
    });
    const { port } = await startProxy(upstream.port, { kind: 'bandwidth', bytesPerSecond: rate });
    const client = await dial(port);
    const t0 = performance.now();
    client.write(Buffer.alloc(bytes, 9));
    await readBytes(client, bytes, 10_000);
    const downSeconds = (performance.now() - t0) / 1_000;
    for (let i = 0; i < 100 && upstreamDone === 0; i += 1) await sleep(50);
    const upSeconds = upstreamDone / 1_000;
    expect(bytes / downSeconds).toBeGreaterThan(rate * 0.8);
    expect(bytes / downSeconds).toBeLessThan(rate * 1.2);
    expect(bytes / upSeconds).toBeGreaterThan(rate * 0.8);
    expect(bytes / upSeconds).toBeLessThan(rate * 1.2);
  });
});

describe('timeout', () => {
  it('accepts, sends nothing and never dials the upstream', async () => {
    const upstream = await startEcho();
    const { proxy, port } = await startProxy(upstream.port, { kind: 'timeout' });
    const client = await dial(port);
    let got = 0;
    client.on('data', (chunk: Buffer) => {
      got += chunk.length;
    });
    client.write('GET / HTTP/1.1\r\n\r\n');
    await sleep(500);
    expect(got).toBe(0);
    expect(client.destroyed).toBe(false);
    expect(upstream.accepted).toHaveLength(0);
    expect(proxy.connections).toBe(1);
    client.end();
    for (let i = 0; i < 50 && proxy.connections > 0; i += 1) await sleep(20);
    expect(proxy.connections).toBe(0);
  });

  it('still answers a verification, at once', async () => {
    const { port } = await startProxy(await refusedPort(), { kind: 'timeout' });
    const client = await dial(port);
    client.write(verifyRequest(TOKEN));
    const { data } = await readAll(client, 1_000);
    expect(data.toString()).toBe(verifyAnswer(TOKEN));
  });
});

describe('verification', () => {
  it('is answered after the injected delay, without dialling the upstream, then closed', async () => {
    const upstream = await startEcho();
    const { proxy, port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 100, jitterMs: 0 });
    const client = await dial(port);
    const t0 = performance.now();
    client.write(verifyRequest(TOKEN));
    const { data, ended } = await readAll(client);
    expect(data.toString()).toBe(`SIMIAN-VERIFIED ${TOKEN}\n`);
    expect(ended).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    expect(upstream.accepted).toHaveLength(0);
    expect(proxy.stats.verified).toBe(1);
  });

  it('waits for the rest of a line that arrives in pieces', async () => {
    const upstream = await startEcho();
    const { port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 0, jitterMs: 0 });
    const client = await dial(port);
    const answer = readAll(client);
    const line = verifyRequest(TOKEN);
    client.write(line.slice(0, 5));
    // Long enough for the proxy to dial the upstream, as for a server that speaks first.
    await sleep(50);
    client.write(line.slice(5));
    expect((await answer).data.toString()).toBe(verifyAnswer(TOKEN));
  });

  it('forwards anything else unchanged, including a wrong token and a lone prefix', async () => {
    const upstream = await startEcho();
    const { port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 0, jitterMs: 0 });
    const wrong = `SIMIAN-VERIFY ${'f'.repeat(TOKEN.length)}\n`;
    const a = await dial(port);
    a.write(wrong);
    expect((await readBytes(a, wrong.length)).toString()).toBe(wrong);
    // A prefix of the line and then silence: forwarded after the short wait.
    const b = await dial(port);
    b.write('SIMIAN');
    expect((await readBytes(b, 6, 2_000)).toString()).toBe('SIMIAN');
    expect(upstream.accepted).toHaveLength(2);
  });

  it('dials the upstream of a silent client, for servers that speak first', async () => {
    const upstream = await startServer((socket) => socket.write('220 ready\r\n'));
    const { port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 0, jitterMs: 0 });
    const client = await dial(port);
    expect((await readBytes(client, 11, 2_000)).toString()).toBe('220 ready\r\n');
  });
});

describe('failures', () => {
  it('closes the client when the upstream refuses, and keeps serving', async () => {
    const { proxy, port } = await startProxy(await refusedPort(), {
      kind: 'latency',
      delayMs: 10,
      jitterMs: 0,
    });
    const client = await dial(port);
    client.write('hello');
    const { data } = await readAll(client);
    expect(data.length).toBe(0);
    expect(proxy.stats.upstreamErrors).toBe(1);
    expect(proxy.state).toBe('running');
    const again = await dial(port);
    again.write(verifyRequest(TOKEN));
    expect((await readAll(again)).data.toString()).toBe(verifyAnswer(TOKEN));
  });

  it('closes only the pair whose client reset', async () => {
    const upstream = await startEcho();
    const { proxy, port } = await startProxy(upstream.port, { kind: 'latency', delayMs: 20, jitterMs: 0 });
    const doomed = await dial(port);
    const survivor = await dial(port);
    doomed.write(Buffer.alloc(256 * 1024));
    survivor.write('still here');
    await sleep(5);
    doomed.resetAndDestroy();
    expect((await readBytes(survivor, 10)).toString()).toBe('still here');
    for (let i = 0; i < 50 && proxy.connections > 1; i += 1) await sleep(20);
    expect(proxy.connections).toBe(1);
  });

  it('reports a port already in use and closes what it opened', async () => {
    const taken = await startServer();
    const proxy = new FaultProxy(
      faultProxyConfigSchema.parse({
        deadline: Date.now() + 60_000,
        verifyToken: TOKEN,
        listeners: [
          {
            listen: { host: HOST, port: 0 },
            upstream: { host: HOST, port: 1 },
            behaviour: { kind: 'timeout' },
          },
          {
            listen: { host: HOST, port: taken.port },
            upstream: { host: HOST, port: 1 },
            behaviour: { kind: 'timeout' },
          },
        ],
      }),
    );
    proxies.push(proxy);
    await expect(proxy.start()).rejects.toThrow(`listen ${HOST}:${taken.port}: listen EADDRINUSE`);
    expect(proxy.state).toBe('stopped');
    expect(await proxy.ended).toBe('failed');
  });
});

describe('deadline', () => {
  it('ends the proxy and its connections, and can be moved', async () => {
    const upstream = await startEcho();
    const { proxy, port } = await startProxy(
      upstream.port,
      { kind: 'latency', delayMs: 0, jitterMs: 0 },
      Date.now() + 200,
    );
    proxy.setDeadline(Date.now() + 600);
    const client = await dial(port);
    const closed = once(client, 'close');
    await sleep(300);
    expect(proxy.state).toBe('running');
    expect(await proxy.ended).toBe('deadline');
    await closed;
    expect(client.destroyed).toBe(true);
    expect(proxy.state).toBe('stopped');
    const refused = track(connect({ host: HOST, port }));
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
  });
});
