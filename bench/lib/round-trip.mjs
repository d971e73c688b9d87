// (b) Command round trip on loopback: a `noop` inject and its `injected` reply through the real
// orchestrator hub and agent, against a bare `ws` echo of a payload of the same size. Both run
// sequentially (one message in flight), in the same process, with permessage-deflate off.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { summarize, withTimeout } from './stats.mjs';

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Spawns `sleep 600` carrying SIMIAN_LABELS, the process driver's opt-in.
 *
 * @param {string} labelValue
 */
export async function spawnNoopTarget(labelValue) {
  const child = spawn('sleep', ['600'], {
    env: { ...process.env, SIMIAN_LABELS: `bench=${labelValue}` },
    stdio: 'ignore',
  });
  await once(child, 'spawn');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await withTimeout(exited, 5_000, `exit of pid ${child.pid}`);
    },
  };
}

/**
 * Builds the noop inject sender for one target.
 *
 * @param {import('../../packages/orchestrator/dist/index.js').AgentSession} session
 * @param {import('@simian/protocol').Target} target
 * @param {string} runId
 */
export function noopSender(session, target, runId) {
  /** A request body shaped exactly as sent; only ids change between requests. */
  const body = () => ({
    type: 'inject',
    runId,
    // A new id each time: the agent answers a repeated faultId from memory without applying it.
    faultId: randomUUID(),
    target,
    fault: { type: 'noop' },
    leaseMs: 30_000,
  });
  return {
    /** Bytes of one inject frame as the session puts it on the wire (the session adds a uuid `id`). */
    frameBytes: Buffer.byteLength(JSON.stringify({ ...body(), id: randomUUID() })),
    async roundTrip() {
      const t0 = performance.now();
      const reply = await session.request(body(), REQUEST_TIMEOUT_MS);
      const elapsed = performance.now() - t0;
      if (reply.type !== 'injected') throw new Error(`noop inject answered ${reply.type}`);
      return elapsed;
    },
  };
}

/**
 * A bare `ws` echo server and one client on loopback.
 *
 * @param {typeof import('ws')} ws the `ws` module
 * @param {number} payloadBytes
 */
export async function startEcho(ws, payloadBytes) {
  const { WebSocketServer, WebSocket } = ws;
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await once(server, 'listening');
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  /** @type {((data: unknown) => void) | undefined} */
  let waiting;
  client.on('message', (data) => {
    const resolve = waiting;
    waiting = undefined;
    resolve?.(data);
  });
  await withTimeout(once(client, 'open'), 5_000, 'echo client connect');
  // A JSON-looking text frame of the same size as the inject frame.
  const prefix = '{"type":"echo","pad":"';
  const suffix = '"}';
  const payload = `${prefix}${'x'.repeat(Math.max(0, payloadBytes - prefix.length - suffix.length))}${suffix}`;
  return {
    payloadBytes: Buffer.byteLength(payload),
    async roundTrip() {
      const t0 = performance.now();
      const reply = new Promise((resolve) => {
        waiting = resolve;
      });
      client.send(payload);
      await withTimeout(reply, REQUEST_TIMEOUT_MS, 'echo reply');
      return performance.now() - t0;
    },
    async close() {
      client.terminate();
      for (const socket of server.clients) socket.terminate();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}

/**
 * Warms both up, then measures them in alternating blocks (A, B, A, B, ...) so drift hits both alike.
 *
 * @param {{
 *   sides: Record<string, { roundTrip: () => Promise<number> }>,
 *   warmup: number,
 *   samples: number,
 *   block: number,
 *   progress: (line: string) => void,
 * }} options
 */
export async function measureRoundTrips({ sides, warmup, samples, block, progress }) {
  const names = Object.keys(sides);
  for (const name of names) {
    for (let i = 0; i < warmup; i += 1) await sides[name].roundTrip();
  }
  /** @type {Record<string, number[]>} */
  const results = Object.fromEntries(names.map((name) => [name, []]));
  while (names.some((name) => results[name].length < samples)) {
    for (const name of names) {
      const take = Math.min(block, samples - results[name].length);
      for (let i = 0; i < take; i += 1) results[name].push(await sides[name].roundTrip());
    }
    const done = Math.min(...names.map((name) => results[name].length));
    if (done % (block * 2) === 0 || done === samples) progress(`  round trip: ${done}/${samples} each`);
  }
  return Object.fromEntries(names.map((name) => [name, summarize(results[name])]));
}
