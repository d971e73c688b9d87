import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  experimentYaml,
  pauseAllFor2Minutes,
  repoRoot,
  runCli,
  startCli,
  tempWorkspace,
} from '../helpers/cli.js';
import { type DemoSystem, startDemoSystem } from '../helpers/demo-system.js';
import { assertNoLeftovers } from '../helpers/leftovers.js';
import { allStopped, processState } from '../helpers/processes.js';
import { eventually } from '../helpers/wait.js';

describe('simian run with the process driver (the demo path)', () => {
  const systems: DemoSystem[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const system of systems.splice(0)) await system.stop();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function setup() {
    const app = `e2e-${randomUUID().slice(0, 8)}`;
    const system = await startDemoSystem({ lbPort: 0, app });
    systems.push(system);
    const workspace = await tempWorkspace('process-e2e');
    cleanups.push(workspace.cleanup);
    const env = { SIMIAN_STATE_DIR: join(workspace.dir, 'state') };
    const probeUrl = `${system.lbUrl.replace(/\/$/, '')}/health`;
    return { app, system, workspace, env, probeUrl };
  }

  it('kill one replica of three: passes, exactly one process killed', async () => {
    const { app, system, workspace, env, probeUrl } = await setup();
    const file = await workspace.write(
      'kill.yaml',
      experimentYaml({
        name: 'kill-one',
        driver: 'process',
        labels: { app },
        fault: 'type: kill',
        duration: '2s',
        probeUrl,
      }),
    );
    const journalPath = join(workspace.dir, 'kill.json');
    const result = await runCli(['run', file, '--journal', journalPath], { env });
    expect(result.stdout).toContain('PASSED');
    expect(result.code).toBe(0);
    const states = await Promise.all(system.replicas.map((replica) => processState(replica.pid)));
    expect(states.filter((state) => state === 'gone' || state === 'Z')).toHaveLength(1);
    const journal = JSON.parse(await readFile(journalPath, 'utf8')) as {
      verdict: string;
      faults: unknown[];
      timeToRecoverMs: number | null;
      samples: unknown[];
    };
    expect(journal.verdict).toBe('passed');
    expect(journal.faults).toHaveLength(1);
    expect(journal.timeToRecoverMs).not.toBeNull();
    expect(journal.samples.length).toBeGreaterThan(5);
  });

  it('pause all replicas: fails, and every replica runs again afterwards', async () => {
    const { app, system, workspace, env, probeUrl } = await setup();
    const file = await workspace.write(
      'pause.yaml',
      experimentYaml({
        name: 'pause-all',
        driver: 'process',
        labels: { app },
        mode: 'all',
        fault: 'type: pause',
        duration: '2s',
        probeUrl,
      }),
    );
    const result = await runCli(['run', file, '--json'], { env });
    expect(result.code).toBe(1);
    const journal = JSON.parse(result.stdout) as {
      verdict: string;
      reason: string;
      faults: Array<{ revertOutcome?: string }>;
    };
    expect(journal.verdict).toBe('failed');
    expect(journal.reason).toMatch(/^hypothesis violated during the fault: web-up/);
    expect(journal.faults.map((fault) => fault.revertOutcome)).toEqual(['reverted', 'reverted', 'reverted']);
    for (const replica of system.replicas) expect(await processState(replica.pid)).not.toBe('T');
    const health = await fetch(system.lbUrl);
    expect(health.status).toBe(200);
  });

  it('a SIGKILLed simian run leaves a ledger that the next run reverts before doing anything', async () => {
    const { app, system, workspace, env, probeUrl } = await setup();
    const file = await workspace.write('pause-long.yaml', pauseAllFor2Minutes('pause-long', app, probeUrl));
    const run = startCli(['run', file], env);
    const pids = system.replicas.map((replica) => replica.pid);
    expect(await eventually(() => allStopped(pids), 20_000)).toBe(true);
    run.child.kill('SIGKILL');
    await run.exited;
    // Nobody is left to revert: the replicas stay frozen until the next simian starts.
    expect(await Promise.all(pids.map(processState))).toEqual(['T', 'T', 'T']);
    const dry = await runCli(['run', file, '--dry-run'], { env });
    expect(dry.code).toBe(0);
    expect(await Promise.all(pids.map(processState))).not.toContain('T');
  });

  it('does not inject when steady state does not hold before: failed, nothing touched', async () => {
    const { app, system, workspace, env } = await setup();
    // Nothing listens on port 9 (discard) here: the probe fails from the start.
    const file = await workspace.write(
      'broken.yaml',
      experimentYaml({
        name: 'broken-before',
        driver: 'process',
        labels: { app },
        mode: 'all',
        fault: 'type: pause',
        duration: '2s',
        probeUrl: 'http://127.0.0.1:9/health',
      }),
    );
    const result = await runCli(['run', file, '--json'], { env });
    expect(result.code).toBe(1);
    const journal = JSON.parse(result.stdout) as { verdict: string; reason: string; faults: unknown[] };
    expect(journal.verdict).toBe('failed');
    expect(journal.reason).toMatch(
      /^steady state did not hold before injection \(web-up: success rate 0 below 0\.95/,
    );
    expect(journal.reason).toMatch(/no fault was injected$/);
    expect(journal.faults).toEqual([]);
    for (const replica of system.replicas) expect(await processState(replica.pid)).not.toBe('T');
  });

  it('Ctrl-C halts the run: faults reverted at once, journal still written, exit code aborted', async () => {
    const { app, system, workspace, env, probeUrl } = await setup();
    const file = await workspace.write('halt.yaml', pauseAllFor2Minutes('halt-me', app, probeUrl));
    const journalPath = join(workspace.dir, 'halt.json');
    const run = startCli(['run', file, '--journal', journalPath], env);
    const pids = system.replicas.map((replica) => replica.pid);
    expect(await eventually(() => allStopped(pids), 20_000)).toBe(true);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(2);
    expect(await Promise.all(pids.map(processState))).not.toContain('T');
    const journal = JSON.parse(await readFile(journalPath, 'utf8')) as {
      verdict: string;
      reason: string;
      faults: Array<{ revertOutcome?: string }>;
    };
    expect(journal.verdict).toBe('aborted');
    expect(journal.reason).toBe('halted by the operator; faults reverted at once');
    expect(journal.faults.map((fault) => fault.revertOutcome)).toEqual(['reverted', 'reverted', 'reverted']);
    expect(run.output()).toContain('halting, reverting every active fault');
  });

  it('pnpm demo: the README demo passes as documented and leaves nothing running', async () => {
    const result = await new Promise<{ code: number | null; out: string; pid: number | undefined }>(
      (resolve) => {
        const child = spawn(process.execPath, [join(repoRoot, 'demo/run-demo.mjs')], {
          env: { ...process.env, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        child.stderr.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, out, pid: child.pid });
        });
      },
    );
    expect(result.out).toMatch(/01-latency-one-replica\.yaml\s+passed\s+\(as expected\)/);
    expect(result.out).toMatch(/02-zone-outage\.yaml\s+passed\s+\(as expected\)/);
    expect(result.out).toMatch(/03-kill-one-replica\.yaml\s+passed\s+\(as expected\)/);
    expect(result.out).toMatch(/04-pause-all-replicas\.yaml\s+failed\s+\(as expected\)/);
    // The latency step's journal says how the delay was made.
    expect(result.out).toMatch(/proxy\+nftables/);
    expect(result.code).toBe(0);
    const pids = [...result.out.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]));
    expect(pids.length).toBeGreaterThanOrEqual(3);
    await assertNoLeftovers({ pids });
  }, 180_000);
});
