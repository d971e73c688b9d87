import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type CommandProbeSpec, runCommandProbe } from './command-probe.js';

const pidFiles: string[] = [];

afterEach(async () => {
  for (const file of pidFiles.splice(0)) {
    const pid = Number(await readFile(file, 'utf8').catch(() => ''));
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
    await rm(file, { force: true });
  }
});

function command(run: string, timeout = '5s'): CommandProbeSpec {
  return { run, timeout };
}

/** A zombie nobody reaps (PID 1 in a container may not) counts as dead. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntilDead(pid: number): Promise<boolean> {
  for (let tries = 0; tries < 40; tries++) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return false;
}

describe('runCommandProbe', () => {
  it('succeeds on exit 0', async () => {
    const attempt = await runCommandProbe(command('true'));
    expect(attempt).toMatchObject({ ok: true });
    expect(attempt.error).toBeUndefined();
    expect(attempt.latencyMs).toBeGreaterThan(0);
  });

  it('fails on a non-zero exit', async () => {
    expect(await runCommandProbe(command('false'))).toEqual(
      expect.objectContaining({ ok: false, error: 'exit code 1' }),
    );
  });

  it('names the exit code and the last line of stderr', async () => {
    const run = 'echo "checking" >&2; echo "database unreachable  " >&2; echo noise; exit 3';
    expect(await runCommandProbe(command(run))).toMatchObject({
      ok: false,
      error: 'exit code 3: database unreachable',
    });
  });

  it('caps a long stderr line', async () => {
    const attempt = await runCommandProbe(command(`printf '%0500d\\n' 0 >&2; exit 2`));
    expect(attempt.error).toBe(`exit code 2: ${'0'.repeat(200)}…`);
  });

  it('keeps the end of a large stderr', async () => {
    const run = `i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 4`;
    expect((await runCommandProbe(command(run))).error).toBe('exit code 4: line 1999');
  });

  it('names the signal that killed the command', async () => {
    expect((await runCommandProbe(command('kill -TERM $$'))).error).toBe('killed by SIGTERM');
  });

  it('times out and kills the whole process group', async () => {
    const pidFile = join(tmpdir(), `simian-probe-${process.pid}-${Date.now()}.pid`);
    pidFiles.push(pidFile);
    const attempt = await runCommandProbe(command(`sleep 5 & echo $! > ${pidFile}; wait`, '300ms'));
    expect(attempt).toMatchObject({ ok: false, error: 'timed out after 300ms' });
    expect(attempt.latencyMs).toBeGreaterThan(200);
    expect(attempt.latencyMs).toBeLessThan(4_000);
    const sleeper = Number(await readFile(pidFile, 'utf8'));
    expect(sleeper).toBeGreaterThan(0);
    expect(await waitUntilDead(sleeper)).toBe(true);
  });

  it('times out a plain sleep', async () => {
    const attempt = await runCommandProbe(command('sleep 5', '200ms'));
    expect(attempt).toMatchObject({ ok: false, error: 'timed out after 200ms' });
    expect(attempt.latencyMs).toBeLessThan(4_000);
  });

  it('does not wait for background children of a finished shell', async () => {
    const pidFile = join(tmpdir(), `simian-probe-bg-${process.pid}-${Date.now()}.pid`);
    pidFiles.push(pidFile);
    const attempt = await runCommandProbe(command(`sleep 5 & echo $! > ${pidFile}; exit 0`, '10s'));
    expect(attempt).toMatchObject({ ok: true });
    expect(attempt.latencyMs).toBeLessThan(4_000);
    expect(await waitUntilDead(Number(await readFile(pidFile, 'utf8')))).toBe(true);
  });

  it('resolves as aborted and kills the command when the outer signal fires', async () => {
    const pidFile = join(tmpdir(), `simian-probe-abort-${process.pid}-${Date.now()}.pid`);
    pidFiles.push(pidFile);
    const controller = new AbortController();
    const pending = runCommandProbe(command(`echo $$ > ${pidFile}; exec sleep 5`, '10s'), controller.signal);
    setTimeout(() => controller.abort(), 200);
    expect(await pending).toMatchObject({ ok: false, error: 'aborted' });
    expect(await waitUntilDead(Number(await readFile(pidFile, 'utf8')))).toBe(true);
    expect(await runCommandProbe(command('true'), controller.signal)).toMatchObject({
      ok: false,
      error: 'aborted',
    });
  });
});
