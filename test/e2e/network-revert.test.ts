// A network fault on a real container is undone however a run ends: a verdict, a stop condition,
// the orchestrator SIGKILLed (the agent's lease), the agent SIGKILLed (its ledger on restart, or
// the kernel's own set-element timeout when nobody comes back). Each case watches the fault act
// from the host, then checks that it no longer does and that nothing of it is left: no simian nft
// table in the container's namespace, no fault proxy, the container untouched and running.
import { readFileSync, readlinkSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { faultTag } from '../../packages/agent/src/network/fault-tag.js';
import { experimentYaml, runCli, startCli, tempWorkspace } from '../helpers/cli.js';
import { containerState, docker, dockerAvailable, startWebContainers } from '../helpers/docker-fixtures.js';
import { isProcessAlive } from '../helpers/leftovers.js';
import { assertNoNetworkLeftovers, faultProxyPids, simianTables } from '../helpers/network-leftovers.js';
import { startAgent, startServe } from '../helpers/orchestrator.js';
import { eventually } from '../helpers/wait.js';

/** The injected delay: far above a normal round trip on the bridge (about 1 ms), far below a probe timeout. */
const DELAY_MS = 300;
/** A round trip at least this long is the fault acting; one below {@link NORMAL_MS} is its absence. */
const SLOW_MS = 250;
const NORMAL_MS = 100;
const REQUEST_TIMEOUT_MS = 1_000;
const LATENCY_FAULT = `{ type: latency, delay: ${DELAY_MS}ms, ports: [80] }`;

interface Journal {
  verdict: string;
  reason: string;
  faults: Array<{
    faultId: string;
    injectedAt?: number;
    revertedAt?: number;
    revertOutcome?: string;
    revertReason?: string;
    detail?: string;
    mechanism?: string;
  }>;
  stopCondition?: { probe: string; successRate: number };
  phases: Array<{ name: string; startedAt: number; endedAt?: number }>;
  samples: Array<{ phase: string; at: number; ok: boolean; latencyMs: number; error?: string }>;
}

/** The one web container a case puts its fault on. */
interface Target {
  id: string;
  ip: string;
  /** Its main process: the way into its network namespace. */
  pid: number;
  runId: string;
}

type Answer = { ok: true; ms: number } | { ok: false; ms: number; error: string };

/**
 * One GET /health from the host to the container's address, on a fresh connection. The timeout is
 * short: a request that is going through the proxy when the fault is reverted never gets an answer
 * (its redirect is gone with the table), and a poll must not lose seconds to it.
 */
function timedGet(ip: string): Promise<Answer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const request = get(
      { host: ip, port: 80, path: '/health', agent: false, timeout: REQUEST_TIMEOUT_MS },
      (response) => {
        response.resume();
        response.once('end', () => {
          const ms = performance.now() - started;
          resolve(
            response.statusCode === 200
              ? { ok: true, ms }
              : { ok: false, ms, error: `status ${response.statusCode}` },
          );
        });
        response.once('error', (error) =>
          resolve({ ok: false, ms: performance.now() - started, error: error.message }),
        );
      },
    );
    request.once('timeout', () => request.destroy(new Error(`timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    request.once('error', (error: NodeJS.ErrnoException) =>
      resolve({ ok: false, ms: performance.now() - started, error: error.code ?? error.message }),
    );
  });
}

/** The latency fault acts: a request still gets its 200, a delay later. */
async function slowed(ip: string): Promise<boolean> {
  const answer = await timedGet(ip);
  return answer.ok && answer.ms >= SLOW_MS;
}

/** No fault acts: a request gets its 200 at once (refused or hanging would be an outage, not normal). */
async function normal(ip: string): Promise<boolean> {
  const answer = await timedGet(ip);
  return answer.ok && answer.ms < NORMAL_MS;
}

/** Running fault proxies in the network namespace of `pid`, whatever fault they belong to. */
function proxiesIn(pid: number): number[] {
  const ns = readlinkSync(`/proc/${pid}/ns/net`);
  return faultProxyPids().filter((proxy) => {
    try {
      return readlinkSync(`/proc/${proxy}/ns/net`) === ns;
    } catch {
      return false;
    }
  });
}

function tablesIn(target: Target): Promise<string[]> {
  return simianTables({ pid: target.pid, what: `container ${target.id.slice(0, 12)}` });
}

/** Fault ids the agent's ledger holds now. */
function ledgerFaultIds(ledgerPath: string): string[] {
  // Written by rename, so never torn; a missing ledger is a failure here, not an empty one.
  const ledger = JSON.parse(readFileSync(ledgerPath, 'utf8')) as { entries: Array<{ faultId: string }> };
  return ledger.entries.map((entry) => entry.faultId);
}

/** Milliseconds until `check` holds, polling every 100 ms; NaN when it never did within `timeoutMs`. */
async function msUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started;
    await sleep(100);
  }
  return Number.NaN;
}

describe.skipIf(!dockerAvailable())(
  'a network fault is reverted however the run ends (real containers)',
  () => {
    /** Processes of the running test (run clients, agents, serve), stopped first in afterEach. */
    let processes: Array<() => Promise<void>> = [];
    /** Containers and workspaces, removed last. */
    let resources: Array<() => Promise<void>> = [];
    let targets: Target[] = [];
    let tags: string[] = [];

    afterEach(async () => {
      const [stop, remove, checked, checkedTags] = [processes, resources, targets, tags];
      processes = [];
      resources = [];
      targets = [];
      tags = [];
      try {
        for (const halt of stop.reverse()) await halt();
        // Proxies of any fault in our containers, also of faults whose id the test never learnt.
        const stray = checked.flatMap((target) => {
          const pids = proxiesIn(target.pid);
          for (const pid of pids) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // Gone in the meantime.
            }
          }
          return pids;
        });
        await assertNoNetworkLeftovers({ containers: checked.map((target) => target.id), tags: checkedTags });
        if (stray.length > 0)
          throw new Error(`fault proxies left in the test's containers (killed): ${stray}`);
      } finally {
        for (const cleanup of remove.reverse()) await cleanup();
      }
    });

    async function startTarget(): Promise<Target> {
      const containers = await startWebContainers({ count: 1, labels: { app: 'net-revert' } });
      resources.push(() => containers.cleanup());
      const id = containers.ids[0] as string;
      const { stdout } = await docker([
        'container',
        'inspect',
        '--format',
        '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}',
        id,
      ]);
      const ip = stdout.trim().split(/\s+/)[0] ?? '';
      expect(ip, 'container address').toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const target = { id, ip, pid: (await containerState(id)).pid, runId: containers.runId };
      targets.push(target);
      expect(await normal(ip), 'the container answers at once before any fault').toBe(true);
      return target;
    }

    async function workspace() {
      const created = await tempWorkspace('net-revert');
      resources.push(created.cleanup);
      return created;
    }

    /** The fault acts no more and left nothing: the same container runs, untouched, with no table or proxy. */
    async function expectReverted(target: Target): Promise<void> {
      const answers = [await timedGet(target.ip), await timedGet(target.ip), await timedGet(target.ip)];
      expect(
        answers.every((answer) => answer.ok && answer.ms < NORMAL_MS),
        JSON.stringify(answers),
      ).toBe(true);
      expect(await tablesIn(target)).toEqual([]);
      expect(proxiesIn(target.pid)).toEqual([]);
      expect(await containerState(target.id)).toMatchObject({
        running: true,
        paused: false,
        pid: target.pid,
      });
    }

    /** The fault is on: slow answers, its table in the container's namespace, one proxy there. */
    async function expectActing(target: Target, tag: string): Promise<void> {
      expect(await slowed(target.ip), 'a request is delayed by the fault').toBe(true);
      expect(await tablesIn(target)).toEqual([`inet ${tag}`]);
      expect(proxiesIn(target.pid)).toHaveLength(1);
    }

    /** An embedded `simian run` of `yaml`, with its journal. */
    async function runEmbedded(name: string, yaml: string) {
      const space = await workspace();
      const file = await space.write(`${name}.yaml`, yaml);
      const journalPath = join(space.dir, `${name}.journal.json`);
      const result = await runCli(['run', file, '--journal', journalPath], {
        env: { SIMIAN_STATE_DIR: join(space.dir, 'state') },
        timeoutMs: 50_000,
      });
      const journal = JSON.parse(await readFile(journalPath, 'utf8').catch(() => 'null')) as Journal | null;
      tags.push(...(journal?.faults ?? []).map((fault) => faultTag(fault.faultId)));
      const failed = (journal?.samples ?? []).filter((sample) => !sample.ok);
      const output = `${result.stdout}\n${result.stderr}\nfailed probe attempts: ${JSON.stringify(failed)}`;
      return { ...result, output, journal };
    }

    /**
     * `simian serve` and one `simian agent` (docker driver, its own ledger) as real processes, and a
     * long latency run on `target` through them, waited for until the fault acts.
     */
    async function startDistributed(target: Target, options: { serveLease: string; runLease?: string }) {
      const space = await workspace();
      const tokenFile = join(space.dir, 'token');
      await writeFile(tokenFile, 'net-revert-token\n');
      const ledgerPath = join(space.dir, 'agent.ledger.json');
      const env = { SIMIAN_STATE_DIR: join(space.dir, 'state') };
      const serve = await startServe({ lease: options.serveLease, tokenFile, env, cleanups: processes });
      /** Starts the agent, first and after a kill, with the same name and ledger; resolves once connected. */
      const restartAgent = () =>
        startAgent({
          serve,
          name: 'net-revert-agent',
          driver: 'docker',
          ledger: ledgerPath,
          tokenFile,
          env,
          cleanups: processes,
        });
      const agent = await restartAgent();

      const file = await space.write(
        'latency-long.yaml',
        experimentYaml({
          name: 'latency-long',
          driver: 'docker',
          labels: { 'simian.test.run': target.runId },
          fault: LATENCY_FAULT,
          duration: '120s',
          probeUrl: `http://${target.ip}/health`,
          before: '500ms',
          successRate: 0,
        }),
      );
      const run = startCli(
        [
          'run',
          file,
          '--orchestrator',
          serve.url,
          '--token-file',
          tokenFile,
          ...(options.runLease ? ['--lease', options.runLease] : []),
        ],
        env,
      );
      processes.push(async () => {
        if (run.child.pid && isProcessAlive(run.child.pid)) run.child.kill('SIGKILL');
      });
      expect(await eventually(() => slowed(target.ip), 20_000, 200), run.output()).toBe(true);
      const faultIds = ledgerFaultIds(ledgerPath);
      expect(faultIds, 'the agent ledger holds the fault while it is on').toHaveLength(1);
      const tag = faultTag(faultIds[0] as string);
      tags.push(tag);
      await expectActing(target, tag);
      return { serve, agent, restartAgent, run, ledgerPath, faultId: faultIds[0] as string, tag };
    }

    it('normal end, passed: latency acts during the run and is gone with its proxy when the run ends', async () => {
      const target = await startTarget();
      const result = await runEmbedded(
        'latency-passes',
        experimentYaml({
          name: 'latency-passes',
          driver: 'docker',
          labels: { 'simian.test.run': target.runId },
          fault: LATENCY_FAULT,
          duration: '2s',
          probeUrl: `http://${target.ip}/health`,
          // One attempt may be lost to the fault's edges on a busy machine; what counts here is
          // that a normal end reverts, and the during-samples below show the fault acting.
          successRate: 0.9,
        }),
      );
      expect(result.code, result.output).toBe(0);
      expect(result.journal?.verdict).toBe('passed');
      const fault = result.journal?.faults[0];
      expect(fault).toMatchObject({ revertOutcome: 'reverted', revertReason: 'requested' });
      expect(fault?.mechanism).toMatch(/^proxy\+nftables/);
      expect(fault?.detail).toContain('verified: round trip through the proxy');
      // The probe itself saw the delay once the fault was in place ('during' also covers the
      // inject phase, when the rules are not there yet) and until the revert.
      const holdEnded = result.journal?.phases.find((phase) => phase.name === 'hold')?.endedAt ?? 0;
      const held = (result.journal?.samples ?? []).filter(
        (s) => s.ok && s.at >= (fault?.injectedAt ?? Number.POSITIVE_INFINITY) && s.at < holdEnded,
      );
      const sorted = held.map((s) => s.latencyMs).sort((x, y) => x - y);
      expect(sorted.length, result.output).toBeGreaterThanOrEqual(3);
      expect(sorted[0] ?? 0, 'fastest probe answer while the fault was held').toBeGreaterThanOrEqual(
        DELAY_MS * 0.95,
      );
      await expectReverted(target);
    });

    it('normal end, failed: reset breaks the probe, the verdict is failed and connections work again', async () => {
      const target = await startTarget();
      const result = await runEmbedded(
        'reset-fails',
        experimentYaml({
          name: 'reset-fails',
          driver: 'docker',
          labels: { 'simian.test.run': target.runId },
          fault: '{ type: reset, ports: [80] }',
          duration: '1s',
          probeUrl: `http://${target.ip}/health`,
          after: '3s',
        }),
      );
      expect(result.code, result.output).toBe(1);
      expect(result.journal?.verdict).toBe('failed');
      expect(result.journal?.reason).toMatch(/^hypothesis violated during the fault: web-up: success rate/);
      expect(result.journal?.faults[0]).toMatchObject({ revertOutcome: 'reverted' });
      expect(result.journal?.faults[0]?.detail).toContain('verified: new connections are reset');
      await expectReverted(target);
    });

    it('a stop condition aborts the run: the fault and its proxy go at once', async () => {
      const target = await startTarget();
      // A probe straight at the container with a timeout below the delay fails while the fault is on.
      const yaml = `apiVersion: simian.dev/v1alpha1
kind: Experiment
metadata:
  name: latency-stop-condition
spec:
  target:
    driver: docker
    selector:
      labels: { simian.test.run: "${target.runId}" }
    mode: one
  faults:
    - ${LATENCY_FAULT}
  duration: 60s
  steadyState:
    probes:
      - name: direct
        http: { url: "http://${target.ip}/health", timeout: 200ms, expect: { status: 200 } }
        interval: 100ms
        tolerance: { successRate: 0.9 }
    before: 1s
    after: 5s
  stopWhen:
    - probe: direct
      successRateBelow: 0.5
      window: 1s
`;
      const result = await runEmbedded('latency-stop-condition', yaml);
      expect(result.code, result.output).toBe(2);
      expect(result.journal?.verdict).toBe('aborted');
      expect(result.journal?.reason).toMatch(
        /^stop condition met: direct success rate 0\.\d\d below 0\.5 over 1s/,
      );
      const fault = result.journal?.faults[0];
      expect(fault).toMatchObject({ revertOutcome: 'reverted' });
      // The stop condition, not the 60 s duration, ended it.
      expect((fault?.revertedAt ?? Number.POSITIVE_INFINITY) - (fault?.injectedAt ?? 0)).toBeLessThan(15_000);
      await expectReverted(target);
    });

    it('orchestrator SIGKILLed: the agent reverts at lease expiry and removes the table and the proxy', async () => {
      const target = await startTarget();
      const leaseMs = 3_000;
      const hub = await startDistributed(target, { serveLease: '3s' });

      hub.serve.child.kill('SIGKILL');
      await hub.serve.exited;
      const endedMs = await msUntil(() => normal(target.ip), leaseMs + 7_000);
      expect(
        endedMs,
        `ms from the SIGKILL until the fault stopped acting\n${hub.agent.output()}`,
      ).toBeLessThanOrEqual(leaseMs + 4_000);
      // The agent's revert, not the kernel's timeout (which would leave an empty table and the proxy).
      const revertedByAgent = new RegExp(
        `"faultId":"${hub.faultId}".*"reason":"lease-expired","outcome":"reverted".*fault reverted by the agent`,
      );
      expect(
        await eventually(() => revertedByAgent.test(hub.agent.output()), 3_000),
        hub.agent.output(),
      ).toBe(true);
      expect(await tablesIn(target), hub.agent.output()).toEqual([]);
      expect(await eventually(() => proxiesIn(target.pid).length === 0, 3_000)).toBe(true);
      expect(ledgerFaultIds(hub.ledgerPath)).toEqual([]);
      expect(isProcessAlive(hub.agent.pid), 'the agent keeps running').toBe(true);
      await expectReverted(target);
      // The client notices the orchestrator is gone and says so instead of hanging.
      expect(await Promise.race([hub.run.exited, sleep(15_000).then(() => 'hung')])).toBe(3);
    });

    it('agent SIGKILLed, long lease: the fault outlives it, and the restarted agent reverts its ledger first', async () => {
      const target = await startTarget();
      // 60 s: neither the agent's lease nor the kernel's timeout (lease + 2 s) can end it in this test.
      const hub = await startDistributed(target, { serveLease: '60s' });

      hub.agent.child.kill('SIGKILL');
      await hub.agent.exited;
      await sleep(1_500);
      await expectActing(target, hub.tag);
      expect(ledgerFaultIds(hub.ledgerPath)).toEqual([hub.faultId]);

      const restarted = performance.now();
      const agent = await hub.restartAgent();
      const endedMs = await msUntil(() => normal(target.ip), 10_000);
      // Recovered before it accepts work: the revert is logged before the agent connects.
      const recoveredAt = agent.output().indexOf('reverted faults left by a previous run of this agent');
      expect(recoveredAt, agent.output()).toBeGreaterThanOrEqual(0);
      expect(recoveredAt).toBeLessThan(agent.output().indexOf('connected to the orchestrator'));
      const sinceRestart = performance.now() - restarted;
      expect(endedMs, 'the fault stopped acting after the restart').not.toBeNaN();
      expect(sinceRestart, 'ms from the restart until the fault stopped acting').toBeLessThan(15_000);
      expect(await tablesIn(target)).toEqual([]);
      expect(proxiesIn(target.pid)).toEqual([]);
      expect(ledgerFaultIds(hub.ledgerPath)).toEqual([]);
      await expectReverted(target);
    });

    it('agent SIGKILLed, short lease, no restart: the kernel ends the fault, the proxy exits, a restart removes the table', async () => {
      const target = await startTarget();
      const leaseMs = 3_000;
      const hub = await startDistributed(target, { serveLease: '60s', runLease: '3s' });

      hub.agent.child.kill('SIGKILL');
      await hub.agent.exited;
      const endedMs = await msUntil(() => normal(target.ip), leaseMs + 2_000 + 6_000);
      // Renewals come every lease/3, so the kernel's elements have at least lease + 2 s - 1 s left.
      expect(endedMs, 'ms from the SIGKILL until the kernel ended the fault').toBeGreaterThanOrEqual(leaseMs);
      expect(endedMs, 'ms from the SIGKILL until the kernel ended the fault').toBeLessThanOrEqual(
        leaseMs + 2_000 + 3_000,
      );
      // The proxy ends by itself 3 s after the rules; the table stays, empty, for the next start.
      expect(await eventually(() => proxiesIn(target.pid).length === 0, 6_000, 200)).toBe(true);
      expect(await tablesIn(target)).toEqual([`inet ${hub.tag}`]);
      expect(await normal(target.ip)).toBe(true);

      const agent = await hub.restartAgent();
      expect(agent.output()).toContain('reverted faults left by a previous run of this agent');
      expect(await tablesIn(target)).toEqual([]);
      expect(ledgerFaultIds(hub.ledgerPath)).toEqual([]);
      await expectReverted(target);
    });
  },
);
