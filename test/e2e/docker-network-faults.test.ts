// Network faults through the DockerDriver on real containers, measured the way an SRE would: the
// latency a client sees, connections that fail, bytes per second, who reaches whom.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DockerDriver, type RevertOutcome } from '@simian/agent';
import { type Target, type WireFault, wireFaultSchema } from '@simian/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faultTag } from '../../packages/agent/src/network/fault-tag.js';
import { repoRoot } from '../helpers/cli.js';
import {
  containerState,
  docker,
  dockerAvailable,
  startWebContainers,
  type WebContainers,
  waitForContainerState,
} from '../helpers/docker-fixtures.js';
import {
  assertNoNetworkLeftovers,
  extraQdiscs,
  faultProxyPids,
  runInNamespace,
  simianTables,
} from '../helpers/network-leftovers.js';
import { errorOf, eventually, waitFor } from '../helpers/wait.js';

const PROXY_ENTRY = join(repoRoot, 'packages/agent/dist/network/proxy/fault-proxy-main.js');
const LEASE_MS = 30_000;
/** Requests per latency measurement: enough for a stable median, few enough at 300 ms each. */
const SAMPLES = 15;
const REQUEST_TIMEOUT_MS = 5_000;
/** Shorter than the kernel's first SYN retransmission (1 s): a dropped SYN shows as a timeout. */
const CONNECT_TIMEOUT_MS = 300;

const driver = new DockerDriver();

interface Injected {
  faultId: string;
  tag: string;
  detail: string;
  mechanism: string | undefined;
  /** Reverts through the driver (idempotent); afterEach reverts what a failed test did not. */
  revert(): Promise<RevertOutcome>;
}

interface Fleet {
  containers: WebContainers;
  a: Target;
  b: Target;
  c: Target;
}

function wire(fault: Record<string, unknown>): WireFault {
  return wireFaultSchema.parse(fault);
}

function addressOf(target: Target): string {
  const address = target.addresses?.[0];
  if (address === undefined) throw new Error(`${target.name} has no address`);
  return address;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** One GET on a fresh connection; resolves with the body size and the time until its last byte. */
function timedGet(host: string, path: string): Promise<{ status: number; bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = get({ host, port: 80, path, agent: false, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      response.once('end', () =>
        resolve({ status: response.statusCode ?? 0, bytes, ms: performance.now() - started }),
      );
      response.once('error', reject);
    });
    request.once('timeout', () => request.destroy(new Error(`GET http://${host}${path} timed out`)));
    request.once('error', reject);
  });
}

/** Round trips of `count` sequential GETs of /health, each on its own connection. */
async function roundTrips(host: string, count = SAMPLES): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const { status, ms } = await timedGet(host, '/health');
    expect(status).toBe(200);
    times.push(ms);
  }
  return times;
}

type ConnectOutcome = 'connected' | 'timeout' | string;

/** A TCP connect from the test process, closed at once; `timeout` when no answer came in time. */
function tryConnect(host: string, port: number, timeoutMs = CONNECT_TIMEOUT_MS): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
}

/**
 * One connection attempt to port 80: `timeout` when the connect got no answer in
 * {@link CONNECT_TIMEOUT_MS}; once connected, a GET whose answer is awaited (up to `answerMs`),
 * so that the server has accepted the connection before the next attempt.
 */
function attempt(host: string, answerMs = 3_000): Promise<ConnectOutcome | 'unanswered'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: 80 });
    let outcome: ConnectOutcome | 'unanswered' = 'timeout';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    let timer = setTimeout(finish, CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      outcome = 'unanswered';
      timer = setTimeout(finish, answerMs);
      socket.write('GET /health HTTP/1.0\r\n\r\n');
    });
    socket.once('data', () => {
      outcome = 'connected';
      finish();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (outcome === 'timeout') outcome = error.code ?? error.message;
      finish();
    });
  });
}

/**
 * `count` attempts with at most `concurrency` in flight, so that a dropped SYN does not hold up
 * the rest. Each waits for its answer: busybox httpd listens with a backlog of 9, and connections
 * closed before it accepted them would fill that queue, whose overflow drops SYNs just like loss.
 */
async function connectMany(host: string, count: number, concurrency = 6) {
  const outcomes: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      outcomes.push(await attempt(host));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const failed = outcomes.filter((outcome) => outcome === 'timeout').length;
  const unanswered = outcomes.filter((outcome) => outcome === 'unanswered').length;
  const other = outcomes.filter((o) => o !== 'timeout' && o !== 'connected' && o !== 'unanswered');
  return { failed, unanswered, other };
}

/** Opens a connection, sends a request and collects what arrives within `waitMs`. */
function bytesWithin(host: string, waitMs: number): Promise<{ connected: boolean; received: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: 80 });
    let connected = false;
    let received = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ connected, received });
    };
    const timer = setTimeout(finish, waitMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      connected = true;
      socket.write('GET /health HTTP/1.0\r\n\r\n');
    });
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.once('error', finish);
    socket.once('end', finish);
  });
}

/** Whether a GET /health from inside container `from` to `ip` gets a 200 within about a second. */
async function reaches(from: Target, ip: string): Promise<boolean> {
  const { stdout } = await docker(
    [
      'exec',
      from.id,
      '/bin/busybox',
      'sh',
      '-c',
      `printf 'GET /health HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 1 ${ip} 80; true`,
    ],
    { timeoutMs: 10_000 },
  );
  return /^HTTP\/1\.[01] 200/.test(stdout);
}

/**
 * Round trips of GETs from inside a container's network namespace to `ip`: node runs on the host,
 * in the container's namespace only (nsenter -n), since the busybox image has no clock to time with.
 */
function roundTripsFrom(pid: number, ip: string, count = SAMPLES): Promise<number[]> {
  const script = `
    const { get } = require('node:http');
    const { performance } = require('node:perf_hooks');
    const [ip, count] = process.argv.slice(1);
    const one = () => new Promise((resolve, reject) => {
      const started = performance.now();
      const request = get({ host: ip, port: 80, path: '/health', agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error('status ' + res.statusCode))));
      });
      request.once('timeout', () => request.destroy(new Error('timed out')));
      request.once('error', reject);
    });
    (async () => {
      await one(); // warm-up: the first request of a fresh process also loads and compiles code
      const times = [];
      for (let i = 0; i < Number(count); i++) times.push(await one());
      process.stdout.write(JSON.stringify(times));
    })().catch((error) => { process.stderr.write(String(error)); process.exitCode = 1; });
  `;
  return new Promise((resolve, reject) => {
    execFile(
      'nsenter',
      ['-t', String(pid), '-n', '--', process.execPath, '-e', script, ip, String(count)],
      { timeout: 30_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`requests from namespace of pid ${pid} failed: ${stderr || error.message}`));
        else resolve(JSON.parse(stdout) as number[]);
      },
    );
  });
}

describe.skipIf(!dockerAvailable())('network faults through the docker driver (real containers)', () => {
  /** Owned by the file: removed by id in afterAll, whatever happened before. */
  let containers: WebContainers | undefined;
  let fleet: Fleet;
  /** Faults of the running test, reverted in afterEach when the test did not get to it. */
  let injected: { target: Target; fault: WireFault; faultId: string; reverted: boolean }[] = [];
  /** Containers a single test started itself, removed in afterEach. */
  let own: WebContainers[] = [];

  async function inject(target: Target, fault: WireFault, leaseMs = LEASE_MS): Promise<Injected> {
    const faultId = `net-e2e-${fault.type}-${randomUUID()}`;
    const entry = { target, fault, faultId, reverted: false };
    injected.push(entry);
    const applied = await driver.apply(target, fault, { faultId, leaseMs });
    return {
      faultId,
      tag: faultTag(faultId),
      detail: applied.detail,
      mechanism: applied.mechanism,
      async revert() {
        const outcome = await driver.revert(target, fault, { faultId });
        entry.reverted = true;
        return outcome;
      },
    };
  }

  /** The fleet's targets as the driver lists them now (addresses may change across a stop/start). */
  async function listFleet(owned: WebContainers): Promise<Fleet> {
    const targets = await driver.list({ labels: { 'simian.test.run': owned.runId } }, 'agent-1', 'zone-a');
    const byId = (id: string | undefined) => {
      const target = targets.find((t) => t.id === id);
      if (!target) throw new Error(`container ${id?.slice(0, 12)} is not listed by the driver`);
      return target;
    };
    const [a, b, c] = owned.ids;
    return { containers: owned, a: byId(a), b: byId(b), c: byId(c) };
  }

  async function pidOf(target: Target): Promise<number> {
    return (await containerState(target.id)).pid;
  }

  beforeAll(async () => {
    if (!existsSync(PROXY_ENTRY))
      throw new Error(`${PROXY_ENTRY} is missing: run \`pnpm build\` before the end-to-end tests`);
    containers = await startWebContainers({ count: 3, labels: { app: 'net-fault' } });
    fleet = await listFleet(containers);
    // A 384 KiB body for the bandwidth test.
    await docker([
      'exec',
      fleet.a.id,
      '/bin/busybox',
      'dd',
      'if=/dev/zero',
      'of=/www/blob.bin',
      'bs=1024',
      'count=384',
    ]);
  });

  afterEach(async () => {
    const pending = injected.filter((entry) => !entry.reverted);
    const tags = injected.map((entry) => faultTag(entry.faultId));
    injected = [];
    const extra = own;
    own = [];
    try {
      for (const entry of pending)
        await driver.revert(entry.target, entry.fault, { faultId: entry.faultId }).catch(() => undefined);
      await assertNoNetworkLeftovers({
        containers: [...(containers?.ids ?? []), ...extra.flatMap((c) => c.ids)],
        tags,
      });
    } finally {
      await Promise.all(extra.map((c) => c.cleanup()));
    }
  });

  afterAll(async () => {
    if (!containers) return;
    await containers.cleanup();
    await assertNoNetworkLeftovers({ containerLabel: `simian.test.run=${containers.runId}`, tags: [] });
  });

  it('inbound latency adds the delay to what a client sees, at 100 ms and 300 ms, and ends with the revert', async () => {
    const ip = addressOf(fleet.a);
    await roundTrips(ip, 3);
    for (const delayMs of [100, 300]) {
      const baseline = median(await roundTrips(ip));
      const fault = await inject(fleet.a, wire({ type: 'latency', delay: `${delayMs}ms`, ports: [80] }));
      expect(fault.mechanism).toMatch(/^proxy\+nftables/);
      expect(fault.detail).toContain('verified: round trip through the proxy');
      const added = median(await roundTrips(ip)) - baseline;
      expect(added, `median added latency at ${delayMs} ms`).toBeGreaterThanOrEqual(delayMs * 0.9);
      expect(added, `median added latency at ${delayMs} ms`).toBeLessThanOrEqual(delayMs * 1.1);
      expect((await fault.revert()).outcome).toBe('reverted');
      const after = median(await roundTrips(ip));
      expect(Math.abs(after - baseline), 'median after the revert vs before').toBeLessThan(5);
    }
  });

  it('outbound latency delays what the target asks of one destination only', async () => {
    const pid = await pidOf(fleet.a);
    const ipB = addressOf(fleet.b);
    const ipC = addressOf(fleet.c);
    const delayMs = 200;
    const baseline = median(await roundTripsFrom(pid, ipB, 10));
    const fault = await inject(
      fleet.a,
      wire({ type: 'latency', delay: `${delayMs}ms`, direction: 'outbound', to: [`${ipB}:80`] }),
    );
    const added = median(await roundTripsFrom(pid, ipB, 10)) - baseline;
    expect(added, 'median added latency from A to B').toBeGreaterThanOrEqual(delayMs * 0.9);
    expect(added, 'median added latency from A to B').toBeLessThanOrEqual(delayMs * 1.1);
    // C is not in `to`, and B is not slower for anyone else.
    expect(median(await roundTripsFrom(pid, ipC, 5))).toBeLessThan(delayMs / 2);
    expect(median(await roundTrips(ipB, 5))).toBeLessThan(delayMs / 2);
    expect((await fault.revert()).outcome).toBe('reverted');
    const after = median(await roundTripsFrom(pid, ipB, 10));
    expect(Math.abs(after - baseline), 'median after the revert vs before').toBeLessThan(5);
  });

  it('inbound loss fails a share of new connections that matches the percent asked for', async () => {
    const ip = addressOf(fleet.a);
    // Without the fault the measurement itself loses nothing.
    expect(await connectMany(ip, 50)).toEqual({ failed: 0, unanswered: 0, other: [] });
    const fault = await inject(fleet.a, wire({ type: 'loss', percent: 30, ports: [80] }));
    expect(fault.mechanism).toBe('nftables (numgen random drop)');
    const attempts = 200;
    const { failed, other } = await connectMany(ip, attempts);
    expect(other).toEqual([]);
    // A connect fails when its SYN is dropped: binomial(200, 0.3), mean 60, σ = √(200·0.3·0.7) ≈ 6.5.
    // Mean ± 4.5σ is [31, 89]; a correct fault falls outside it about once in 150,000 runs.
    const sigma = Math.sqrt(attempts * 0.3 * 0.7);
    expect(failed, `${failed} of ${attempts} connects failed`).toBeGreaterThanOrEqual(
      attempts * 0.3 - 4.5 * sigma,
    );
    expect(failed, `${failed} of ${attempts} connects failed`).toBeLessThanOrEqual(
      attempts * 0.3 + 4.5 * sigma,
    );
    expect((await fault.revert()).outcome).toBe('reverted');
    expect(await connectMany(ip, 100)).toEqual({ failed: 0, unanswered: 0, other: [] });
  });

  it('bandwidth caps a download at the rate asked for, and the revert lifts the cap', async () => {
    const ip = addressOf(fleet.a);
    const rate = 250_000; // 2mbit in bytes per second
    const fault = await inject(fleet.a, wire({ type: 'bandwidth', rate: '2mbit', ports: [80] }));
    const limited = await timedGet(ip, '/blob.bin');
    expect(limited).toMatchObject({ status: 200, bytes: 384 * 1024 });
    const limitedRate = limited.bytes / (limited.ms / 1_000);
    expect(limitedRate, 'bytes per second under the fault').toBeGreaterThanOrEqual(rate * 0.8);
    expect(limitedRate, 'bytes per second under the fault').toBeLessThanOrEqual(rate * 1.2);
    expect((await fault.revert()).outcome).toBe('reverted');
    const free = await timedGet(ip, '/blob.bin');
    expect(free.bytes).toBe(384 * 1024);
    expect(free.bytes / (free.ms / 1_000), 'bytes per second after the revert').toBeGreaterThan(rate * 5);
  });

  it('reset refuses new connections; the service answers again after the revert', async () => {
    const ip = addressOf(fleet.a);
    const fault = await inject(fleet.a, wire({ type: 'reset', ports: [80] }));
    expect(fault.detail).toContain('verified: new connections are reset');
    expect(await simianTables({ pid: await pidOf(fleet.a), what: 'A' })).toEqual([`inet ${fault.tag}`]);
    for (let i = 0; i < 5; i++)
      expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await tryConnect(ip, 80, 2_000));
    // From a neighbour too, not only from the host.
    expect(await reaches(fleet.b, ip)).toBe(false);
    expect((await fault.revert()).outcome).toBe('reverted');
    expect((await timedGet(ip, '/health')).status).toBe(200);
    expect(await reaches(fleet.b, ip)).toBe(true);
  });

  it('timeout accepts connections but no answer comes; normal after the revert', async () => {
    const ip = addressOf(fleet.a);
    const fault = await inject(fleet.a, wire({ type: 'timeout', ports: [80] }));
    expect(await bytesWithin(ip, 1_000)).toEqual({ connected: true, received: '' });
    expect((await fault.revert()).outcome).toBe('reverted');
    const after = await bytesWithin(ip, 2_000);
    expect(after.connected).toBe(true);
    expect(after.received).toMatch(/^HTTP\/1\.[01] 200/);
  });

  it('partition cuts A from B both ways; both still reach C; all restored after the revert', async () => {
    const [ipA, ipB, ipC] = [addressOf(fleet.a), addressOf(fleet.b), addressOf(fleet.c)];
    // The agent acts on `peers`; `to` is the selector the orchestrator resolved them from.
    const fault = await inject(
      fleet.a,
      wire({
        type: 'partition',
        to: { labels: { 'simian.test.run': fleet.containers.runId } },
        peers: [ipB],
      }),
    );
    const paths = () =>
      Promise.all([
        reaches(fleet.a, ipB),
        reaches(fleet.b, ipA),
        reaches(fleet.a, ipC),
        reaches(fleet.b, ipC),
        reaches(fleet.c, ipA),
      ]);
    expect(await paths()).toEqual([false, false, true, true, true]);
    expect((await fault.revert()).outcome).toBe('reverted');
    expect(await paths()).toEqual([true, true, true, true, true]);
  });

  it('zone-outage isolate: nothing reaches the target and it reaches nothing, until the revert', async () => {
    const [ipA, ipB] = [addressOf(fleet.a), addressOf(fleet.b)];
    const fault = await inject(fleet.a, wire({ type: 'zone-outage', zone: 'zone-a', mode: 'isolate' }));
    expect(fault.detail).toMatch(/^zone zone-a lost: isolation/);
    const [fromHost, aToB, bToA] = await Promise.all([
      tryConnect(ipA, 80),
      reaches(fleet.a, ipB),
      reaches(fleet.b, ipA),
    ]);
    expect({ fromHost, aToB, bToA }).toEqual({ fromHost: 'timeout', aToB: false, bToA: false });
    expect((await fault.revert()).outcome).toBe('reverted');
    expect(await tryConnect(ipA, 80)).toBe('connected');
    expect([await reaches(fleet.a, ipB), await reaches(fleet.b, ipA)]).toEqual([true, true]);
  });

  it('the kernel and the proxy end a fault by themselves when its lease runs out unrenewed', async () => {
    const leaseMs = 2_000;
    const [ipA, ipB] = [addressOf(fleet.a), addressOf(fleet.b)];
    const started = performance.now();
    const [latency, reset] = await Promise.all([
      inject(fleet.a, wire({ type: 'latency', delay: '200ms', ports: [80] }), leaseMs),
      inject(fleet.b, wire({ type: 'reset', ports: [80] }), leaseMs),
    ]);
    expect(faultProxyPids([latency.tag])).toHaveLength(1);
    // Polled from the start: the first normal answer also shows the fault did not end early.
    let latencyEnded = Number.NaN;
    let resetEnded = Number.NaN;
    await waitFor(
      async () => {
        const [slow, refused] = await Promise.all([
          Number.isNaN(latencyEnded) ? timedGet(ipA, '/health').then((r) => r.ms > 100) : false,
          Number.isNaN(resetEnded) ? tryConnect(ipB, 80).then((outcome) => outcome !== 'connected') : false,
        ]);
        const now = performance.now() - started;
        if (!slow && Number.isNaN(latencyEnded)) latencyEnded = now;
        if (!refused && Number.isNaN(resetEnded)) resetEnded = now;
        return !Number.isNaN(latencyEnded) && !Number.isNaN(resetEnded);
      },
      9_000,
      200,
    );
    // nft rounds lease + 2 s margin up to whole seconds: 4 s; allow for the apply and the polling.
    for (const [name, ended] of [
      ['latency', latencyEnded],
      ['reset', resetEnded],
    ] as const) {
      expect(ended, `${name} ended after ${Math.round(ended)} ms`).toBeGreaterThanOrEqual(leaseMs);
      expect(ended, `${name} ended after ${Math.round(ended)} ms`).toBeLessThanOrEqual(leaseMs + 4_000);
    }
    // The proxy outlives its redirect (a redirect to a dead proxy would be an outage), then ends
    // by itself 3 s after the kernel's rules.
    expect(faultProxyPids([latency.tag])).toHaveLength(1);
    expect(await eventually(() => faultProxyPids([latency.tag]).length === 0, 6_000, 200)).toBe(true);
    // Reverting afterwards is safe, removes what is left (an nft table with no element, or none at
    // all once the proxy's exit took the table along) and does not claim to have ended the fault.
    expect((await latency.revert()).outcome).toBe('nothing-to-revert');
    const resetRevert = await reset.revert();
    expect(resetRevert.outcome).toBe('nothing-to-revert');
    expect(resetRevert.detail).toMatch(/the kernel had already ended the fault/);
    expect(await simianTables({ pid: await pidOf(fleet.b), what: 'B' })).toEqual([]);
  });

  it('a target restarted or removed mid-fault: the revert says so, and no proxy is left', async () => {
    const pair = await startWebContainers({ count: 2, labels: { app: 'net-fault-gone' } });
    own.push(pair);
    const targets = await driver.list({ labels: { 'simian.test.run': pair.runId } }, 'agent-1');
    const restarted = targets.find((t) => t.id === pair.ids[0]) as Target;
    const removed = targets.find((t) => t.id === pair.ids[1]) as Target;

    const first = await inject(restarted, wire({ type: 'latency', delay: '200ms', ports: [80] }));
    const before = await containerState(restarted.id);
    await docker(['restart', '--time', '0', restarted.id]);
    await waitForContainerState(restarted.id, (s) => s.running && s.startedAt !== before.startedAt);
    const afterRestart = await first.revert();
    expect(afterRestart.outcome).toBe('nothing-to-revert');
    expect(afterRestart.detail).toMatch(/namespace was replaced/);
    expect(afterRestart.detail).toMatch(/stopped proxy pid \d+/);
    expect(faultProxyPids([first.tag])).toEqual([]);
    // The new namespace never had the fault.
    const relisted = await driver.list({ labels: { 'simian.test.run': pair.runId } }, 'agent-1');
    const fresh = relisted.find((t) => t.id === restarted.id) ?? restarted;
    await waitFor(async () => (await tryConnect(addressOf(fresh), 80, 1_000)) === 'connected', 10_000, 100);
    expect(median(await roundTrips(addressOf(fresh), 5))).toBeLessThan(100);

    const second = await inject(removed, wire({ type: 'latency', delay: '200ms', ports: [80] }));
    await docker(['rm', '--force', removed.id]);
    const afterRemove = await second.revert();
    expect(afterRemove.outcome).toBe('target-gone');
    expect(afterRemove.detail).toMatch(/no longer exists/);
    expect(faultProxyPids([second.tag])).toEqual([]);
  });

  it('an outbound destination that does not resolve fails the apply and leaves nothing behind', async () => {
    // A 64-character label is not a valid DNS name: the resolver refuses it without sending a query.
    const host = `${'a'.repeat(64)}.invalid`;
    const faultId = `net-e2e-unresolvable-${randomUUID()}`;
    const fault = wire({ type: 'latency', delay: '100ms', direction: 'outbound', to: [`${host}:80`] });
    injected.push({ target: fleet.a, fault, faultId, reverted: false });
    const error = await errorOf(driver.apply(fleet.a, fault, { faultId, leaseMs: LEASE_MS }));
    expect(error.code).toBe('SIMIAN_INJECT_FAILED');
    expect(error.message).toContain(`cannot resolve ${host}`);
    await assertNoNetworkLeftovers({ containers: [fleet.a.id], tags: [faultTag(faultId)], graceMs: 0 });
    expect((await driver.revert(fleet.a, fault, { faultId })).outcome).toBe('nothing-to-revert');
  });

  it('the leftover check sees a simian table, an extra qdisc and a fault proxy, and removes them', async () => {
    const ns = { pid: await pidOf(fleet.c), what: 'C' };
    const tag = `simian_selfcheck${randomUUID().slice(0, 8)}`;
    await runInNamespace(ns, 'nft', ['add', 'table', 'inet', tag]);
    await runInNamespace(ns, 'tc', [
      'qdisc',
      'add',
      'dev',
      'eth0',
      'root',
      'tbf',
      'rate',
      '1mbit',
      'burst',
      '32kbit',
      'latency',
      '400ms',
    ]);
    // Only its argv makes it look like a fault proxy of `tag`.
    const lookalike = spawn(
      process.execPath,
      ['-e', 'setTimeout(() => {}, 30_000)', '/nonexistent/fault-proxy-main.js', '--fault', tag],
      { stdio: 'ignore' },
    );
    try {
      await waitFor(() => faultProxyPids([tag]).length === 1);
      const check = assertNoNetworkLeftovers({ containers: [fleet.c.id], tags: [tag], graceMs: 0 });
      const where = `container ${fleet.c.id.slice(0, 12)}`;
      await expect(check).rejects.toThrow(`nft table inet ${tag} in ${where}`);
      await expect(check).rejects.toThrow(`qdisc on eth0 in ${where}: qdisc tbf`);
      await expect(check).rejects.toThrow(`fault proxy pid ${lookalike.pid} still running`);
      expect(await simianTables(ns)).toEqual([]);
      expect(await extraQdiscs(ns)).toEqual([]);
      await waitFor(() => faultProxyPids([tag]).length === 0);
    } finally {
      lookalike.kill('SIGKILL');
    }
  });

  it('zone-outage stop and pause: stopped or frozen, and running again after the revert', async () => {
    const stop = await inject(fleet.c, wire({ type: 'zone-outage', zone: 'zone-a', mode: 'stop' }));
    expect((await containerState(fleet.c.id)).running).toBe(false);
    expect((await stop.revert()).outcome).toBe('reverted');
    expect(await containerState(fleet.c.id)).toMatchObject({ running: true, paused: false });

    const pause = await inject(fleet.c, wire({ type: 'zone-outage', zone: 'zone-a', mode: 'pause' }));
    expect((await containerState(fleet.c.id)).paused).toBe(true);
    expect((await pause.revert()).outcome).toBe('reverted');
    expect(await containerState(fleet.c.id)).toMatchObject({ running: true, paused: false });
    // A stop and start may hand out another address; later tests list the fleet anew.
    fleet = await listFleet(fleet.containers);
    await waitFor(async () => (await tryConnect(addressOf(fleet.c), 80, 1_000)) === 'connected', 10_000, 100);
  });
});
