// `pnpm bench`: simian's kill latency, command round trip and fault proxy, each side by side with
// a baseline measured in the same run. Writes bench/results/latest.{json,md} and prints the Markdown.
// See bench/README.md for what each figure means.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent, DockerDriver, FaultRunner, Ledger, ProcessDriver } from '../packages/agent/dist/index.js';
import { OrchestratorServer } from '../packages/orchestrator/dist/index.js';
import * as protocol from '../packages/protocol/dist/index.js';
import { instrument, measureDecode } from './lib/diagnostics.mjs';
import { BENCH_LABEL, IMAGE, measureKillLatency } from './lib/kill-latency.mjs';
import { measureProxy } from './lib/proxy-bench.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { measureRoundTrips, noopSender, spawnNoopTarget, startEcho } from './lib/round-trip.mjs';
import { rounded, withTimeout } from './lib/stats.mjs';

const requireOrchestrator = createRequire(new URL('../packages/orchestrator/package.json', import.meta.url));
const requireAgent = createRequire(new URL('../packages/agent/package.json', import.meta.url));
const { pino } = requireOrchestrator('pino');
const ws = requireOrchestrator('ws');
const Docker = requireAgent('dockerode');

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const env = (name, fallback) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const KILL_ITERATIONS = env('BENCH_KILL_ITERATIONS', 20);
const RT_SAMPLES = env('BENCH_RT_SAMPLES', 10_000);
const RT_WARMUP = env('BENCH_RT_WARMUP', 1_000);
const RT_BLOCK = 1_000;
/** Everything (setup, both measurements, cleanup) must finish within this. */
const DEADLINE_MS = env('BENCH_DEADLINE_MS', 240_000);
const GOALS = { killRatio: 1.05, roundTripP50Ratio: 1.5 };
/** `proxy`: only (c), the fault proxy; unset: everything. */
const BENCH_ONLY = process.env.BENCH_ONLY ?? '';
if (!['', 'proxy'].includes(BENCH_ONLY)) {
  process.stderr.write(`BENCH_ONLY=${BENCH_ONLY}: expected "proxy" or nothing\n`);
  process.exit(2);
}
const PROXY = {
  proxyMain: fileURLToPath(
    new URL('../packages/agent/dist/network/proxy/fault-proxy-main.js', import.meta.url),
  ),
  rounds: env('BENCH_PROXY_ROUNDS', 3),
  rtSamples: env('BENCH_PROXY_RT_SAMPLES', 10_000),
  rtWarmup: env('BENCH_PROXY_RT_WARMUP', 1_000),
  accuracySamples: env('BENCH_PROXY_ACCURACY_SAMPLES', 1_000),
  /** Round trips per second in the accuracy runs: 5 connections at 10 ms, 50 at 100 ms. */
  accuracyRate: env('BENCH_PROXY_ACCURACY_RATE', 500),
};

const progress = (line) => process.stderr.write(`${line}\n`);
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' });

// --- cleanup: everything started registers how to undo it; run once, last in first out ---------
/** @type {Array<{ what: string, undo: () => Promise<unknown> }>} */
const cleanups = [];
/** @type {Promise<void> | undefined} */
let cleaning;
function defer(what, undo) {
  cleanups.push({ what, undo });
}
function cleanUp() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { what, undo } = /** @type {{ what: string, undo: () => Promise<unknown> }} */ (cleanups.pop());
      try {
        await withTimeout(Promise.resolve().then(undo), 15_000, `cleanup: ${what}`);
      } catch (error) {
        progress(`cleanup failed: ${what}: ${error.message}`);
        process.exitCode = 1;
      }
    }
  })();
  return cleaning;
}
/** Set once main() settles. */
let mainSettled = false;
/** Removes, by id, any container carrying this run's label (set once the Engine is known). */
let sweepContainers = async () => undefined;
/**
 * Interrupted (signal, deadline) while main() may still be mid-step: clean up, give main() a
 * moment to notice that everything is gone, then sweep once more for a container it may have
 * created meanwhile, and exit.
 */
async function abandon(code) {
  try {
    await cleanUp();
    for (let waited = 0; !mainSettled && waited < 5_000; waited += 100) await sleep(100);
    await withTimeout(sweepContainers(), 15_000, 'final container sweep');
  } catch (error) {
    progress(`cleanup failed: ${error.message}`);
  } finally {
    process.exit(code);
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    progress(`\n${signal}: cleaning up`);
    void abandon(130);
  });
}
const deadline = setTimeout(() => {
  progress(`bench exceeded its deadline of ${DEADLINE_MS} ms; cleaning up`);
  void abandon(1);
}, DEADLINE_MS);
deadline.unref();

function memory() {
  globalThis.gc?.();
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

async function dockerEngine() {
  const docker = new Docker();
  try {
    await docker.ping({ abortSignal: AbortSignal.timeout(3_000) });
  } catch (error) {
    return { docker: undefined, why: `no Docker Engine answers (${error.message})` };
  }
  const version = await docker.version();
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    progress(`image ${IMAGE} is missing; building it from /bin/busybox`);
    try {
      await buildTestImage();
    } catch (error) {
      return { docker: undefined, why: `image ${IMAGE} is missing and cannot be built: ${error.message}` };
    }
  }
  return { docker, version: `${version.Version} (API ${version.ApiVersion})` };
}

/** The busybox-static image of TESTING.md (needs a static /bin/busybox and the docker CLI). */
async function buildTestImage() {
  const dir = await mkdtemp(join(os.tmpdir(), 'simian-bench-rootfs-'));
  try {
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'www'));
    await copyFile('/bin/busybox', join(dir, 'bin/busybox'));
    await writeFile(join(dir, 'www/health'), 'ok\n');
    await new Promise((resolve, reject) => {
      const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const load = spawn('docker', ['import', '-', IMAGE], { stdio: ['pipe', 'ignore', 'inherit'] });
      tar.stdout.pipe(load.stdin);
      tar.on('error', reject);
      load.on('error', reject);
      load.on('exit', (code) =>
        code === 0 ? resolve(undefined) : reject(new Error(`docker import exited ${code}`)),
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function filesystemOf(path) {
  try {
    const { stdout } = await promisify(execFile)('df', ['--output=fstype', path]);
    return stdout.trim().split('\n').pop();
  } catch {
    return 'unknown';
  }
}

async function startAgent(agentUrl, token, name, ledgerPath, capabilities) {
  const agent = new Agent({
    orchestratorUrl: agentUrl,
    token,
    identity: { name, labels: {} },
    ledgerPath,
    logger,
    capabilities,
  });
  defer(`agent ${name}`, () => agent.stop());
  await agent.start();
  await agent.waitConnected(10_000);
  return agent;
}

async function main() {
  const startedAt = new Date();
  const runTag = randomUUID().slice(0, 8);
  const memoryAtStart = memory();
  const cpus = os.cpus();
  const machine = {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    docker: 'not available',
  };

  if (BENCH_ONLY === 'proxy') {
    machine.docker = 'not used (BENCH_ONLY=proxy)';
    const stateDir = await mkdtemp(join(os.tmpdir(), 'simian-bench-'));
    defer('bench state directory', () => rm(stateDir, { recursive: true, force: true }));
    const proxy = await measureProxy({ ...PROXY, stateDir, runTag, defer, progress });
    // Its own files, so a partial run does not replace the last full one.
    await writeResults(
      {
        startedAt: startedAt.toISOString(),
        durationS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
        only: 'proxy',
        machine,
        proxy,
      },
      'latest-proxy',
    );
    return;
  }

  const engine = await dockerEngine();
  if (engine.docker) machine.docker = engine.version;
  else {
    const bar = '!'.repeat(88);
    progress(`\n${bar}\n!!! SKIPPING (a) kill latency: ${engine.why}`);
    progress(
      `!!! start a Docker Engine (e.g. \`dockerd >/tmp/dockerd.log 2>&1 &\`) to measure it.\n${bar}\n`,
    );
  }
  const docker = engine.docker;

  // Containers are tracked by id and removed by id, whatever happens; a sweep by this run's label
  // catches one created while an interrupted step was still under way.
  const containers = new Set();
  if (docker) {
    sweepContainers = async () => {
      const leftovers = await docker.listContainers({
        all: true,
        filters: { label: [`${BENCH_LABEL}=${runTag}`] },
      });
      for (const { Id } of leftovers) containers.add(Id);
      for (const id of containers) {
        await docker
          .getContainer(id)
          .remove({ force: true, v: true })
          .catch((error) => {
            // 404: already gone; 409: its removal is under way.
            if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
          });
      }
      containers.clear();
    };
    defer('bench containers', () => sweepContainers());
  }
  const track = (id) => containers.add(id);
  const untrack = (id) => containers.delete(id);

  // The ledger lives where a real agent keeps it: on disk (the temp dir here), fsynced.
  const stateDir = await mkdtemp(join(os.tmpdir(), 'simian-bench-'));
  defer('bench state directory', () => rm(stateDir, { recursive: true, force: true }));
  const token = randomUUID();
  const server = new OrchestratorServer({ host: '127.0.0.1', port: 0, token, logger });
  defer('orchestrator', () => server.close());
  const { agentUrl } = await server.listen();
  const agentName = `bench-${runTag}`;
  await startAgent(agentUrl, token, agentName, join(stateDir, 'agent.ledger.json'), [
    'process',
    ...(docker ? ['docker'] : []),
  ]);
  const session = await server.hub.waitForAgent(agentName, 10_000);
  progress(`orchestrator and agent ${agentName} up (ledger in ${stateDir})`);

  // (a) kill latency, with the agent's stages timed in place.
  let kill;
  let killStages;
  if (docker) {
    progress(`(a) kill latency: ${KILL_ITERATIONS} pairs, interleaved simian / direct`);
    const stages = instrument({
      ledgerRecord: [Ledger.prototype, 'record'],
      dockerApply: [DockerDriver.prototype, 'apply'],
      ledgerRemove: [Ledger.prototype, 'remove'],
    });
    try {
      kill = await measureKillLatency({
        docker,
        session,
        iterations: KILL_ITERATIONS,
        runTag,
        track,
        untrack,
        progress,
        onWarmedUp: () => stages.reset(),
      });
      killStages = stages.summaries();
    } finally {
      stages.restore();
    }
  }

  // (b) command round trip.
  progress(`(b) command round trip: ${RT_WARMUP} warm-up + ${RT_SAMPLES} each, blocks of ${RT_BLOCK}`);
  const noopLabel = `noop-${randomUUID()}`;
  const target = await spawnNoopTarget(noopLabel);
  defer(`noop target pid ${target.child.pid}`, () => target.stop());
  const { targets } = await session.request({
    type: 'list-targets',
    driver: 'process',
    selector: { labels: { bench: noopLabel } },
  });
  if (targets.length !== 1) throw new Error(`list-targets found ${targets.length} noop targets, expected 1`);
  const noop = noopSender(session, targets[0], `bench-noop-${runTag}`);
  const echo = await startEcho(ws, noop.frameBytes);
  defer('echo server', () => echo.close());
  const roundTrip = await measureRoundTrips({
    sides: { simian: noop, echo },
    warmup: RT_WARMUP,
    samples: RT_SAMPLES,
    block: RT_BLOCK,
    progress,
  });
  const memoryAfterRuns = memory();

  // Diagnostics (informational): where the noop's time goes.
  progress('diagnostics: command path without agent I/O, noop stages, noop with the ledger on tmpfs');
  // `renew` of no fault ids: the same hub, socket, JSON and schemas, and no I/O on the agent.
  const renew = {
    async roundTrip() {
      const t0 = performance.now();
      await session.request({ type: 'renew', faultIds: [], leaseMs: 30_000 });
      return performance.now() - t0;
    },
  };
  const bare = await measureRoundTrips({
    sides: { renew, echo },
    warmup: 500,
    samples: 2_000,
    block: 1_000,
    progress,
  });
  const decode = measureDecode(protocol, targets[0]);
  const noopStages = async (sender) => {
    const stages = instrument({
      ledgerRecord: [Ledger.prototype, 'record'],
      runnerApply: [FaultRunner.prototype, 'apply'],
      processApply: [ProcessDriver.prototype, 'apply'],
      ledgerRemove: [Ledger.prototype, 'remove'],
    });
    try {
      const { simian } = await measureRoundTrips({
        sides: { simian: sender },
        warmup: 0,
        samples: 1_000,
        block: 1_000,
        progress,
      });
      return { roundTrip: simian, ...stages.summaries() };
    } finally {
      stages.restore();
    }
  };
  const noopOnDisk = await noopStages(noop);
  let noopOnTmpfs;
  const shm = '/dev/shm';
  if ((await filesystemOf(shm)) === 'tmpfs') {
    const shmDir = await mkdtemp(join(shm, 'simian-bench-'));
    defer('tmpfs ledger directory', () => rm(shmDir, { recursive: true, force: true }));
    const shmName = `bench-tmpfs-${runTag}`;
    const shmAgent = await startAgent(agentUrl, token, shmName, join(shmDir, 'agent.ledger.json'), [
      'process',
    ]);
    const shmSession = await server.hub.waitForAgent(shmName, 10_000);
    const shmNoop = noopSender(shmSession, { ...targets[0], agent: shmName }, `bench-noop-tmpfs-${runTag}`);
    for (let i = 0; i < 200; i += 1) await shmNoop.roundTrip();
    noopOnTmpfs = await noopStages(shmNoop);
    await shmAgent.stop();
  }

  // (c) the fault proxy, in its own process.
  const proxy = await measureProxy({ ...PROXY, stateDir, runTag, defer, progress });

  const killRatio = kill ? kill.simian.dead.p50 / kill.direct.dead.p50 : Number.NaN;
  const rtRatio = roundTrip.simian.p50 / roundTrip.echo.p50;
  const roundedAll = (summaries) =>
    summaries && Object.fromEntries(Object.entries(summaries).map(([name, s]) => [name, rounded(s)]));
  const results = {
    startedAt: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    machine,
    goals: GOALS,
    kill: kill && {
      iterations: KILL_ITERATIONS,
      observation: 'Docker wait (condition not-running) armed before the kill; dead = its body arrives',
      simian: {
        deadMs: rounded(kill.simian.dead),
        ackMs: rounded(kill.simian.ack),
        signalSentMs: rounded(kill.simian.signal),
      },
      direct: { deadMs: rounded(kill.direct.dead), ackMs: rounded(kill.direct.ack) },
      ratio: killRatio,
      pass: killRatio <= GOALS.killRatio,
      agentStagesMs: roundedAll(killStages),
      agentDetail: kill.agentDetail,
      samplesMs: kill.samples,
    },
    killSkipped: kill ? undefined : engine.why,
    roundTrip: {
      samples: RT_SAMPLES,
      warmup: RT_WARMUP,
      frameBytes: noop.frameBytes,
      echoPayloadBytes: echo.payloadBytes,
      simianMs: rounded(roundTrip.simian),
      echoMs: rounded(roundTrip.echo),
      ratioP50: rtRatio,
      ratioP99: roundTrip.simian.p99 / roundTrip.echo.p99,
      pass: rtRatio <= GOALS.roundTripP50Ratio,
    },
    memory: { atStart: memoryAtStart, afterRuns: memoryAfterRuns },
    diagnostics: {
      renewRoundTripMs: rounded(bare.renew),
      echoAlongsideRenewMs: rounded(bare.echo),
      decodeMs: roundedAll(decode),
      ledgerFilesystem: await filesystemOf(stateDir),
      noopStagesOnDiskMs: roundedAll(noopOnDisk),
      noopStagesOnTmpfsMs: roundedAll(noopOnTmpfs),
    },
    proxy,
  };
  await writeResults(results);
}

async function writeResults(results, name = 'latest') {
  const markdown = renderMarkdown(results);
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(RESULTS, `${name}.md`), markdown);
  process.stdout.write(markdown);
  progress(`wrote ${join(RESULTS, `${name}.json`)} and ${name}.md`);
}

try {
  await main();
} catch (error) {
  progress(`bench failed: ${error?.stack ?? error}`);
  process.exitCode = 1;
} finally {
  mainSettled = true;
  await cleanUp();
  clearTimeout(deadline);
}
