// Chaos Gorilla on one machine: web containers labelled simian.dev/zone=zone-a / zone-b stand in
// for hosts in two zones, behind the demo balancer, and `simian run` (embedded, docker driver)
// takes a whole zone down with each mode. The label is the zone: it wins over the agent's own.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faultTag } from '../../packages/agent/src/network/fault-tag.js';
import { experimentYaml, runCli, tempWorkspace } from '../helpers/cli.js';
import {
  containerState,
  type DemoBalancer,
  docker,
  dockerAvailable,
  publishedPort,
  startDemoBalancer,
  startWebContainers,
  type WebContainers,
} from '../helpers/docker-fixtures.js';
import { assertNoNetworkLeftovers } from '../helpers/network-leftovers.js';
import { eventually } from '../helpers/wait.js';

/** Labels every container of this file carries, besides its zone; the experiments select by it. */
const FLEET_LABEL = 'simian.test.zone-fleet';
/**
 * Short enough that a request meeting a frozen or cut-off backend is retried on the next one well
 * within the probe's 1 s timeout (two lost backends in a row: 400 ms), long enough for a busybox
 * httpd on a busy machine.
 */
const BACKEND_TIMEOUT_MS = 200;

interface Journal {
  verdict: string;
  reason: string;
  targets: Array<{ id: string; zone?: string }>;
  faults: Array<{
    faultId: string;
    target: { id: string };
    fault: { type: string; zone?: string; mode?: string };
    injectedAt?: number;
    revertedAt?: number;
    revertOutcome?: string;
    detail?: string;
    error?: string;
  }>;
}

type ZoneMode = 'stop' | 'pause' | 'isolate';

/** Containers in named zones, all sharing one fleet label. */
interface ZonedFleet {
  fleetId: string;
  byZone: Record<string, WebContainers>;
  ids: string[];
}

async function startZonedFleet(zones: Record<string, number>): Promise<ZonedFleet> {
  const fleetId = randomUUID();
  const byZone: Record<string, WebContainers> = {};
  try {
    for (const [zone, count] of Object.entries(zones)) {
      byZone[zone] = await startWebContainers({
        count,
        labels: { app: 'web', [FLEET_LABEL]: fleetId, 'simian.dev/zone': zone },
      });
    }
  } catch (error) {
    await Promise.all(Object.values(byZone).map((containers) => containers.cleanup()));
    throw error;
  }
  return { fleetId, byZone, ids: Object.values(byZone).flatMap((containers) => containers.ids) };
}

async function containerIp(id: string): Promise<string> {
  const { stdout } = await docker([
    'container',
    'inspect',
    '--format',
    '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}',
    id,
  ]);
  const ip = stdout.trim().split(/\s+/)[0];
  if (!ip) throw new Error(`container ${id.slice(0, 12)} has no IPv4 address`);
  return ip;
}

/** Whether GET /health on `url` answers 200 within a second. */
async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Every container runs, is not frozen, and answers on its address and on its published port
 * (both may be new after a stop and start) within a bounded wait.
 */
async function expectAllBack(ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    expect(await containerState(id), `container ${id.slice(0, 12)}`).toMatchObject({
      running: true,
      paused: false,
    });
    const [ip, port] = await Promise.all([containerIp(id), publishedPort(id, 80)]);
    const back = await eventually(
      async () =>
        (await healthy(`http://${ip}/health`)) && (await healthy(`http://127.0.0.1:${port}/health`)),
      10_000,
      100,
    );
    expect(back, `container ${id.slice(0, 12)} answers on ${ip}:80 and 127.0.0.1:${port}`).toBe(true);
  }
}

/** Whether a TCP connection to `ip:80` opens within 300 ms (an isolated container drops the SYN). */
function connects(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port: 80 });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 300);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether one container is down the way `mode` takes it down, seen from the engine or the wire. */
async function isDown(id: string, ip: string, mode: ZoneMode): Promise<boolean> {
  const state = await containerState(id);
  switch (mode) {
    case 'stop':
      return !state.running;
    case 'pause':
      return state.paused;
    case 'isolate':
      return state.running && !state.paused && !(await connects(ip));
  }
}

/**
 * Watches the fleet while a run goes on (polling every 100 ms until `done` or 15 s): whether every
 * container of the lost zone was down at one moment, and whether all others were up at that moment.
 */
async function watchOutage(
  lost: readonly string[],
  others: readonly string[],
  mode: ZoneMode,
  done: () => boolean,
): Promise<{ lostDown: boolean; othersUp: boolean }> {
  const ips = new Map(
    await Promise.all([...lost, ...others].map(async (id) => [id, await containerIp(id)] as const)),
  );
  const deadline = Date.now() + 15_000;
  while (!done() && Date.now() < deadline) {
    const down = await Promise.all(lost.map((id) => isDown(id, ips.get(id) as string, mode)));
    if (down.every(Boolean)) {
      const up = await Promise.all(
        others.map(async (id) => {
          const state = await containerState(id);
          return state.running && !state.paused && (await connects(ips.get(id) as string));
        }),
      );
      return { lostDown: true, othersUp: up.every(Boolean) };
    }
    await sleep(100);
  }
  return { lostDown: false, othersUp: false };
}

describe.skipIf(!dockerAvailable())('zone-outage through simian run (docker driver, zones by label)', () => {
  let spread: ZonedFleet | undefined;
  /** Balancers and workspaces of the running test, closed in afterEach. */
  const cleanups: Array<() => Promise<void>> = [];
  /** nft tables of every fault a run made (isolate), checked and removed in afterEach. */
  let tags: string[] = [];
  let touched: string[] = [];

  beforeAll(async () => {
    spread = await startZonedFleet({ 'zone-a': 2, 'zone-b': 2 });
  });

  afterEach(async () => {
    const check = { containers: touched, tags, host: false };
    tags = [];
    touched = [];
    try {
      // Before the cleanups: they may remove containers whose namespaces are to be looked into.
      await assertNoNetworkLeftovers(check);
    } finally {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    }
  });

  afterAll(async () => {
    await Promise.all(Object.values(spread?.byZone ?? {}).map((containers) => containers.cleanup()));
  });

  /**
   * A balancer over the fleet's current published ports (a stopped and restarted container gets a
   * new one), an experiment losing `zone`, and `simian run` with a journal.
   */
  async function runZoneOutage(fleet: ZonedFleet, zone: string, mode: ZoneMode) {
    const ports = await Promise.all(fleet.ids.map((id) => publishedPort(id, 80)));
    const balancer: DemoBalancer = await startDemoBalancer({
      backends: ports.map((port) => `127.0.0.1:${port}`),
      backendTimeoutMs: BACKEND_TIMEOUT_MS,
    });
    cleanups.push(() => balancer.close());
    const workspace = await tempWorkspace('zone-outage');
    cleanups.push(workspace.cleanup);
    touched = [...fleet.ids];
    const name = `zone-outage-${mode}`;
    const file = await workspace.write(
      `${name}.yaml`,
      experimentYaml({
        name,
        driver: 'docker',
        labels: { [FLEET_LABEL]: fleet.fleetId },
        mode: 'all',
        fault: `{ type: zone-outage, zone: ${zone}, mode: ${mode} }`,
        duration: '2s',
        probeUrl: `${balancer.url.replace(/\/$/, '')}/health`,
        before: '1s',
        after: '4s',
      }),
    );
    const journalPath = join(workspace.dir, `${name}.journal.json`);
    let finished = false;
    const lost = fleet.byZone[zone]?.ids ?? [];
    const [result, seen] = await Promise.all([
      runCli(['run', file, '--journal', journalPath], {
        env: { SIMIAN_STATE_DIR: join(workspace.dir, 'state') },
        timeoutMs: 45_000,
      }).finally(() => {
        finished = true;
      }),
      watchOutage(
        lost,
        fleet.ids.filter((id) => !lost.includes(id)),
        mode,
        () => finished,
      ),
    ]);
    const journal = JSON.parse(await readFile(journalPath, 'utf8').catch(() => 'null')) as Journal | null;
    tags = (journal?.faults ?? []).map((fault) => faultTag(fault.faultId));
    return { ...result, journal, seen };
  }

  it.each<ZoneMode>([
    'stop',
    'pause',
    'isolate',
  ])('losing zone-a (mode %s) passes: zone-b serves, exactly zone-a is hit, and all of it comes back', async (mode) => {
    const fleet = spread as ZonedFleet;
    const zoneA = [...(fleet.byZone['zone-a']?.ids ?? [])].sort();
    const result = await runZoneOutage(fleet, 'zone-a', mode);
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).toBe(0);
    expect(result.stdout).toContain('PASSED');
    // Zone-a really went down while zone-b stayed up, as the engine and the wire saw it.
    expect(result.seen).toEqual({ lostDown: true, othersUp: true });
    const journal = result.journal;
    expect(journal?.verdict).toBe('passed');
    expect(journal?.targets.map((target) => target.id).sort()).toEqual(zoneA);
    expect(journal?.targets.map((target) => target.zone)).toEqual(['zone-a', 'zone-a']);
    expect(journal?.faults.map((fault) => fault.target.id).sort()).toEqual(zoneA);
    for (const fault of journal?.faults ?? []) {
      expect(fault).toMatchObject({
        fault: { type: 'zone-outage', zone: 'zone-a', mode },
        revertOutcome: 'reverted',
      });
      expect(fault.detail).toMatch(/^zone zone-a lost: /);
      expect(fault.revertedAt ?? 0).toBeGreaterThan(fault.injectedAt ?? Number.POSITIVE_INFINITY);
    }
    await expectAllBack(fleet.ids);
  });

  it('losing the only zone with replicas fails, and every replica is back afterwards', async () => {
    const fleet = await startZonedFleet({ 'zone-solo': 2 });
    cleanups.push(() =>
      Promise.all(Object.values(fleet.byZone).map((c) => c.cleanup())).then(() => undefined),
    );
    const result = await runZoneOutage(fleet, 'zone-solo', 'isolate');
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).toBe(1);
    expect(result.seen).toEqual({ lostDown: true, othersUp: true });
    expect(result.journal?.verdict).toBe('failed');
    expect(result.journal?.reason).toMatch(/^hypothesis violated during the fault: web-up: success rate/);
    expect(result.journal?.faults.map((fault) => fault.target.id).sort()).toEqual([...fleet.ids].sort());
    expect(result.journal?.faults.map((fault) => fault.revertOutcome)).toEqual(['reverted', 'reverted']);
    await expectAllBack(fleet.ids);
  });
});
