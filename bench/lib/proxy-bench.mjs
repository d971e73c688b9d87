// (c) The fault proxy (packages/agent/src/network/proxy) on loopback, in its own process as in
// production, side by side with a direct connection and with HAProxy (mode tcp, one thread) as the
// reference relay: 1 GiB throughput, 64-byte round trip, and the accuracy of injected latency.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { measureRoundTrips } from './round-trip.mjs';
import { rounded, summarize, withTimeout } from './stats.mjs';

const HOST = '127.0.0.1';
const GIB = 1024 * 1024 * 1024;
const PAYLOAD_BYTES = 64;
/** Written by the upstream per call; the proxy and HAProxy see the kernel's segments anyway. */
const SEND_CHUNK = Buffer.alloc(1024 * 1024, 0x61);
const STEP_TIMEOUT_MS = 60_000;
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

export const PROXY_GOALS = {
  /** fault proxy MB/s ÷ HAProxy MB/s (medians) */
  throughputVsHaproxy: 1,
  /** fault proxy p50 − direct p50 at zero delay, µs */
  addedRoundTripUs: 100,
  /** |measured RTT − direct RTT − delay|, ms */
  accuracyP50Ms: 0.5,
  accuracyP99Ms: 2,
};

/**
 * @param {{
 *   proxyMain: string,
 *   stateDir: string,
 *   runTag: string,
 *   defer: (what: string, undo: () => Promise<unknown>) => void,
 *   progress: (line: string) => void,
 *   rounds: number,
 *   rtSamples: number,
 *   rtWarmup: number,
 *   accuracySamples: number,
 *   accuracyRate: number,
 * }} options
 */
export async function measureProxy(options) {
  const { defer, progress } = options;
  const sender = await startSender();
  defer('proxy bench: 1 GiB sender', () => sender.close());
  const echo = await startEchoServer();
  defer('proxy bench: echo server', () => echo.close());

  const delays = [10, 100];
  const proxy = await startFaultProxy(options.proxyMain, options.runTag, [
    { upstream: sender.port, behaviour: { kind: 'latency', delayMs: 0, jitterMs: 0 } },
    { upstream: echo.port, behaviour: { kind: 'latency', delayMs: 0, jitterMs: 0 } },
  ]);
  defer(`fault proxy pid ${proxy.pid}`, () => proxy.stop());
  const [proxyThroughputPort, proxyEchoPort] = proxy.ports;

  const haproxy = await startHaproxy(options.stateDir, [sender.port, echo.port]);
  if (haproxy.running) defer(`haproxy pid ${haproxy.pid}`, () => haproxy.stop());
  else progress(`!!! HAProxy not measured: ${haproxy.why}`);

  // Throughput: the client sends a short request, the upstream answers 1 GiB, the client counts it.
  /** @type {Record<string, { port: number, pid?: number }>} */
  const relays = {
    direct: { port: sender.port },
    faultProxy: { port: proxyThroughputPort, pid: proxy.pid },
    ...(haproxy.running ? { haproxy: { port: haproxy.ports[0], pid: haproxy.pid } } : {}),
  };
  progress(
    `(c) proxy throughput: 1 GiB × ${options.rounds} rounds, interleaved ${Object.keys(relays).join(' / ')}`,
  );
  /** @type {Record<string, number[]>} */
  const mbps = Object.fromEntries(Object.keys(relays).map((name) => [name, []]));
  /** @type {Record<string, number[]>} */
  const cpuPerGiB = Object.fromEntries(Object.keys(relays).map((name) => [name, []]));
  for (let round = 0; round < options.rounds; round += 1) {
    for (const [name, relay] of Object.entries(relays)) {
      const cpu0 = relay.pid ? await cpuSeconds(relay.pid) : 0;
      const seconds = await receiveAll(relay.port, GIB);
      mbps[name].push(GIB / seconds / 1e6);
      if (relay.pid) cpuPerGiB[name].push((await cpuSeconds(relay.pid)) - cpu0);
    }
    progress(
      `  round ${round + 1}: ${Object.entries(mbps)
        .map(([name, list]) => `${name} ${list.at(-1)?.toFixed(0)} MB/s`)
        .join(', ')}`,
    );
  }

  // Round trip: 64-byte ping-pong on one connection per side.
  progress(`(c) proxy round trip: ${options.rtWarmup} warm-up + ${options.rtSamples} each, 64 B ping-pong`);
  const pingers = {
    direct: await pingPong(echo.port),
    faultProxy: await pingPong(proxyEchoPort),
    ...(haproxy.running ? { haproxy: await pingPong(haproxy.ports[1]) } : {}),
  };
  defer('proxy bench: ping-pong clients', async () => {
    for (const pinger of Object.values(pingers)) pinger.close();
  });
  const roundTrip = await measureRoundTrips({
    sides: pingers,
    warmup: options.rtWarmup,
    samples: options.rtSamples,
    block: 1_000,
    progress,
  });
  for (const pinger of Object.values(pingers)) pinger.close();

  // Accuracy. Each connection pings in turn, the connections started staggered across one delay
  // so due times spread out as independent clients' would; there are delay × rate connections, so
  // both delays run at the same request rate. The baseline is a direct connection driven the same
  // way (same connections, and an idle pause of one delay before each ping), so it carries the
  // same cost of waking idle processes, which on a VM is a few hundred µs; blocks alternate.
  // One fresh proxy per delay, so the lateness it logs on exit is this run's.
  const accuracy = [];
  for (const delayMs of delays) {
    const delayed = await startFaultProxy(options.proxyMain, options.runTag, [
      { upstream: echo.port, behaviour: { kind: 'latency', delayMs, jitterMs: 0 } },
    ]);
    defer(`fault proxy pid ${delayed.pid}`, () => delayed.stop());
    const connections = Math.max(1, Math.round((options.accuracyRate * delayMs) / 1_000));
    const blocks = 2;
    const perBlock = Math.ceil(options.accuracySamples / connections / blocks);
    // The first block of each side also warms up (JIT, the proxy's first GCs) with ~200 round trips.
    const warmupRounds = Math.max(2, Math.ceil(200 / connections));
    progress(
      `(c) latency accuracy at ${delayMs} ms: ${connections} connections × ${perBlock * blocks} round trips, against direct driven alike`,
    );
    /** @type {number[]} */
    const viaProxy = [];
    /** @type {number[]} */
    const direct = [];
    let cpuS = 0;
    let wallS = 0;
    for (let block = 0; block < blocks; block += 1) {
      // A full collection of this (large) process in the middle would delay every connection at once.
      globalThis.gc?.();
      const warmup = block === 0 ? warmupRounds : 1;
      const run = { warmup, rounds: perBlock, spreadMs: delayMs };
      direct.push(...(await concurrentRoundTrips(echo.port, connections, { ...run, pauseMs: delayMs })));
      globalThis.gc?.();
      const cpu0 = await cpuSeconds(delayed.pid);
      const t0 = performance.now();
      viaProxy.push(...(await concurrentRoundTrips(delayed.ports[0], connections, { ...run, pauseMs: 0 })));
      wallS += (performance.now() - t0) / 1_000;
      cpuS += (await cpuSeconds(delayed.pid)) - cpu0;
    }
    await delayed.stop();
    const lateness = delayed.exitLog().find((line) => line.lateness)?.lateness;
    const directSummary = summarize(direct);
    const proxySummary = summarize(viaProxy);
    const signed = viaProxy.map((rtt) => rtt - directSummary.p50 - delayMs);
    const hot = viaProxy.map((rtt) => Math.abs(rtt - roundTrip.direct.p50 - delayMs));
    accuracy.push({
      delayMs,
      connections,
      samples: viaProxy.length,
      directMs: rounded(directSummary),
      viaProxyMs: rounded(proxySummary),
      absErrorMs: rounded(summarize(signed.map(Math.abs))),
      signedErrorMs: rounded(summarize(signed)),
      /** p50 and p99 of the proxy's RTTs minus the same percentile of direct's, minus the delay. */
      percentileShiftMs: {
        p50: proxySummary.p50 - directSummary.p50 - delayMs,
        p99: proxySummary.p99 - directSummary.p99 - delayMs,
      },
      /** Against the busy single-connection direct p50 of the round-trip test instead. */
      absErrorVsBusyDirectMs: rounded(summarize(hot)),
      proxyCpuPercent: (cpuS / wallS) * 100,
      /** The proxy's own view (its exit log): due time → the turn that sent the chunk, warm-up included. */
      proxyLatenessMs: lateness && {
        count: lateness.count,
        p50: lateness.p50Ms,
        p99: lateness.p99Ms,
        max: Math.round(lateness.maxMs * 1_000) / 1_000,
      },
    });
  }

  const median = (list) => summarize(list).p50;
  const throughput = Object.fromEntries(
    Object.entries(mbps).map(([name, list]) => [name, { medianMBps: median(list), runsMBps: list }]),
  );
  const cpuSecondsPerGiB = Object.fromEntries(
    Object.entries(cpuPerGiB)
      .filter(([, list]) => list.length > 0)
      .map(([name, list]) => [name, median(list)]),
  );
  const throughputRatio = haproxy.running
    ? throughput.faultProxy.medianMBps / throughput.haproxy.medianMBps
    : Number.NaN;
  const addedRoundTripUs = (roundTrip.faultProxy.p50 - roundTrip.direct.p50) * 1_000;
  return {
    goals: PROXY_GOALS,
    haproxy: haproxy.running
      ? { version: haproxy.version, config: haproxy.summary }
      : { skipped: haproxy.why },
    throughput: {
      bytes: GIB,
      rounds: options.rounds,
      ...throughput,
      cpuSecondsPerGiB,
      ratioVsHaproxy: throughputRatio,
      pass: haproxy.running ? throughputRatio >= PROXY_GOALS.throughputVsHaproxy : undefined,
    },
    roundTrip: {
      payloadBytes: PAYLOAD_BYTES,
      samples: options.rtSamples,
      warmup: options.rtWarmup,
      ms: Object.fromEntries(Object.entries(roundTrip).map(([name, summary]) => [name, rounded(summary)])),
      addedRoundTripUs,
      pass: addedRoundTripUs <= PROXY_GOALS.addedRoundTripUs,
    },
    accuracy: accuracy.map((a) => ({
      ...a,
      pass: a.absErrorMs.p50 <= PROXY_GOALS.accuracyP50Ms && a.absErrorMs.p99 <= PROXY_GOALS.accuracyP99Ms,
    })),
  };
}

/** User + system CPU seconds of a process so far. */
async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

async function listen(server) {
  server.listen(0, HOST);
  await once(server, 'listening');
  return server.address().port;
}

function closeServer(server, sockets) {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve(undefined)));
}

/**
 * Sends 1 GiB on every connection once the client's request (any first bytes) arrives, then ends
 * it: a request and a long response, as in HTTP, the same for every side.
 */
async function startSender() {
  const sockets = new Set();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let left = GIB;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, SEND_CHUNK.length);
        left -= n;
        const more = socket.write(n === SEND_CHUNK.length ? SEND_CHUNK : SEND_CHUNK.subarray(0, n));
        if (left === 0) socket.end();
        else if (!more) return;
      }
    };
    socket.on('drain', pump);
    socket.once('data', pump);
  });
  const port = await listen(server);
  return { port, close: () => closeServer(server, sockets) };
}

async function startEchoServer() {
  const sockets = new Set();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => socket.write(chunk));
  });
  const port = await listen(server);
  return { port, close: () => closeServer(server, sockets) };
}

/** Connects, counts bytes into one reused buffer until the end; resolves with the seconds taken. */
async function receiveAll(port, expected) {
  let got = 0;
  const t0 = performance.now();
  const socket = connect({
    host: HOST,
    port,
    onread: {
      buffer: Buffer.allocUnsafe(256 * 1024),
      callback: (n) => {
        got += n;
      },
    },
  });
  socket.write('GET /1GiB\n');
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once('end', resolve);
        socket.once('error', reject);
        socket.once('close', () => reject(new Error(`connection to ${port} closed after ${got} bytes`)));
      }),
      STEP_TIMEOUT_MS,
      `1 GiB through port ${port}`,
    );
  } finally {
    socket.destroy();
  }
  const seconds = (performance.now() - t0) / 1_000;
  if (got !== expected) throw new Error(`received ${got} bytes through port ${port}, expected ${expected}`);
  return seconds;
}

/** A client that sends 64 bytes and waits for 64 back. */
async function pingPong(port) {
  const socket = connect({ host: HOST, port, noDelay: true });
  socket.on('error', () => undefined);
  await withTimeout(once(socket, 'connect'), 5_000, `connect to ${port}`);
  // Not 'S': the first bytes must not look like the proxy's verification line.
  const payload = Buffer.alloc(PAYLOAD_BYTES, 0x61);
  let pending = 0;
  /** @type {(() => void) | undefined} */
  let waiting;
  socket.on('data', (chunk) => {
    pending += chunk.length;
    if (pending < PAYLOAD_BYTES) return;
    pending -= PAYLOAD_BYTES;
    const resolve = waiting;
    waiting = undefined;
    resolve?.();
  });
  return {
    async roundTrip() {
      const t0 = performance.now();
      const reply = new Promise((resolve) => {
        waiting = resolve;
      });
      socket.write(payload);
      await withTimeout(reply, 10_000, `ping-pong through ${port}`);
      return performance.now() - t0;
    },
    close() {
      socket.destroy();
    },
  };
}

/**
 * `connections` clients each doing `warmup` untimed round trips then `rounds` timed ones, started
 * staggered over `spreadMs`, each pausing `pauseMs` before every round trip.
 */
async function concurrentRoundTrips(port, connections, { warmup, rounds, spreadMs, pauseMs }) {
  const pingers = [];
  try {
    for (let i = 0; i < connections; i += 1) pingers.push(await pingPong(port));
    const results = await Promise.all(
      pingers.map(async (pinger, i) => {
        await sleep((spreadMs * i) / connections);
        for (let r = 0; r < warmup; r += 1) {
          if (pauseMs > 0) await sleep(pauseMs);
          await pinger.roundTrip();
        }
        const rtts = [];
        for (let r = 0; r < rounds; r += 1) {
          if (pauseMs > 0) await sleep(pauseMs);
          rtts.push(await pinger.roundTrip());
        }
        return rtts;
      }),
    );
    return results.flat();
  } finally {
    for (const pinger of pingers) pinger.close();
  }
}

/** Spawns the built fault-proxy-main.js and waits for its ready line. */
async function startFaultProxy(main, runTag, listeners) {
  const config = {
    deadline: Date.now() + 15 * 60_000,
    verifyToken: 'b0b0b0b0',
    listeners: listeners.map(({ upstream, behaviour }) => ({
      listen: { host: HOST, port: 0 },
      upstream: { host: HOST, port: upstream },
      behaviour,
    })),
  };
  const encoded = Buffer.from(JSON.stringify(config)).toString('base64url');
  const child = spawn(process.execPath, [main, '--fault', `bench-${runTag}`, '--config', encoded], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  // 'close', not 'exit': its last log line must have been read.
  const exited = once(child, 'close');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    try {
      await withTimeout(exited, 5_000, `fault proxy pid ${child.pid} exit`);
    } catch {
      child.kill('SIGKILL');
      await withTimeout(exited, 5_000, `fault proxy pid ${child.pid} exit after SIGKILL`);
    }
  };
  try {
    const line = await withTimeout(
      new Promise((resolve, reject) => {
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (chunk) => {
          stdout += chunk;
          const newline = stdout.indexOf('\n');
          if (newline !== -1) resolve(JSON.parse(stdout.slice(0, newline)));
        });
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`fault proxy exited ${code}: ${stderr.trim()}`)));
      }),
      10_000,
      'fault proxy ready line',
    );
    if (!line.ready) throw new Error(`fault proxy: ${line.error}`);
    /** The JSON lines the proxy logged (stderr). */
    const exitLog = () =>
      stderr
        .split('\n')
        .filter((text) => text.startsWith('{'))
        .map((text) => JSON.parse(text));
    return { pid: child.pid, ports: line.ports, stop, exitLog };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Starts `haproxy -db` relaying a free port to each upstream port, or says why it cannot. */
async function startHaproxy(stateDir, upstreamPorts) {
  let version;
  try {
    const { stdout } = await promisify(execFile)('haproxy', ['-v']);
    version = stdout.split('\n')[0].trim();
  } catch (error) {
    return { running: false, why: `haproxy is not installed (${error.code ?? error.message})` };
  }
  // Free ports: bound and released just before HAProxy binds them (loopback, this run only).
  const ports = [];
  for (const _ of upstreamPorts) {
    const probe = createServer();
    ports.push(await listen(probe));
    await new Promise((resolve) => probe.close(resolve));
  }
  const summary = 'mode tcp, nbthread 1, default buffers (tune.bufsize 16 KiB), no splicing';
  const config = [
    'global',
    '  nbthread 1',
    '  maxconn 1000',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 120s',
    '  timeout server 120s',
    ...upstreamPorts.flatMap((upstream, i) => [
      `listen relay${i}`,
      `  bind ${HOST}:${ports[i]}`,
      `  server upstream ${HOST}:${upstream}`,
    ]),
    '',
  ].join('\n');
  const file = join(stateDir, 'haproxy.cfg');
  await writeFile(file, config);
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    try {
      await withTimeout(exited, 5_000, `haproxy pid ${child.pid} exit`);
    } catch {
      child.kill('SIGKILL');
      await withTimeout(exited, 5_000, `haproxy pid ${child.pid} exit after SIGKILL`);
    }
  };
  // Ready when every port accepts; bounded.
  for (let attempt = 0; ; attempt += 1) {
    if (child.exitCode !== null) {
      return { running: false, why: `haproxy exited ${child.exitCode}: ${stderr.trim()}` };
    }
    if ((await Promise.all(ports.map(accepts))).every(Boolean)) break;
    if (attempt >= 100) {
      await stop();
      return { running: false, why: `haproxy did not listen within 5 s: ${stderr.trim()}` };
    }
    await sleep(50);
  }
  return { running: true, pid: child.pid, ports, version, summary, stop };
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
