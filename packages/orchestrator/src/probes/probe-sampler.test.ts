import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import type { RequestListener, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { serveHttp } from '../../../../test/helpers/http-server.js';
import { type Probe, probeSchema } from '../experiments/schema.js';
import type { ProbeSample } from './probe-sample.js';
import { ProbeSampler } from './probe-sampler.js';

const servers: Server[] = [];
const samplers: ProbeSampler[] = [];
const pidFiles: string[] = [];

afterEach(async () => {
  await Promise.all(samplers.splice(0).map((sampler) => sampler.stop().catch(() => undefined)));
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
  for (const file of pidFiles.splice(0)) {
    const pid = Number(await readFile(file, 'utf8').catch(() => ''));
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
    await rm(file, { force: true });
  }
});

function serve(handler: RequestListener): Promise<string> {
  return serveHttp(handler, servers);
}

function probe(input: Record<string, unknown>): Probe {
  return probeSchema.parse(input);
}

function sampler(...args: ConstructorParameters<typeof ProbeSampler>): ProbeSampler {
  const created = new ProbeSampler(...args);
  samplers.push(created);
  return created;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (condition()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function readPid(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8'));
  } catch {
    return 0;
  }
}

/** A zombie nobody reaps (PID 1 in a container may not) counts as dead. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

describe('ProbeSampler', () => {
  it('samples each probe about once per interval and delivers every sample', async () => {
    const url = await serve((_req, res) => res.end('ok'));
    const delivered: ProbeSample[] = [];
    const sampling = sampler(
      [
        probe({ name: 'fast', http: { url }, interval: '50ms' }),
        probe({ name: 'slow', command: { run: 'true' }, interval: '250ms' }),
      ],
      { onSample: (sample) => delivered.push(sample) },
    );
    sampling.start();
    await sleep(600);
    await sampling.stop();

    const fast = sampling.samples().filter((sample) => sample.probe === 'fast');
    const slow = sampling.samples().filter((sample) => sample.probe === 'slow');
    // About 12 and 3; the bounds only catch a loop that runs flat out or stalls.
    expect(fast.length).toBeGreaterThanOrEqual(4);
    expect(fast.length).toBeLessThanOrEqual(14);
    expect(slow.length).toBeGreaterThanOrEqual(1);
    expect(slow.length).toBeLessThanOrEqual(4);
    expect(fast.every((sample) => sample.ok && sample.status === 200 && sample.phase === 'before')).toBe(
      true,
    );
    expect(slow.every((sample) => sample.ok && sample.status === undefined)).toBe(true);
    expect(delivered).toEqual(sampling.samples());
  });

  it('tags samples with the phase current when they started', async () => {
    const url = await serve((_req, res) => res.end());
    const sampling = sampler([probe({ name: 'web', http: { url }, interval: '20ms' })]);
    const count = (phase: string) => sampling.samples().filter((sample) => sample.phase === phase).length;
    expect(sampling.phase).toBe('before');
    sampling.start();
    await waitFor(() => count('before') >= 2, 'samples before');
    sampling.setPhase('during');
    await waitFor(() => count('during') >= 2, 'samples during');
    sampling.setPhase('after');
    await waitFor(() => count('after') >= 2, 'samples after');
    await sampling.stop();

    const phases = sampling.samples().map((sample) => sample.phase);
    const order = ['before', 'during', 'after'];
    expect(phases.map((phase) => order.indexOf(phase))).toEqual(
      phases.map((phase) => order.indexOf(phase)).sort((a, b) => a - b),
    );
  });

  it('starts in the phase it is given', async () => {
    const sampling = sampler([probe({ name: 'check', command: { run: 'true' }, interval: '1s' })], {
      phase: 'after',
    });
    sampling.start();
    await waitFor(() => sampling.samples().length > 0, 'a sample');
    expect(sampling.samples()[0]?.phase).toBe('after');
  });

  it('never overlaps attempts of a probe that is slower than its interval', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const url = await serve((_req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end();
      }, 120);
    });
    const sampling = sampler([probe({ name: 'slow', http: { url }, interval: '10ms' })]);
    sampling.start();
    await waitFor(() => sampling.samples().length >= 4, 'four samples');
    await sampling.stop();

    expect(maxInFlight).toBe(1);
    const samples = sampling.samples();
    for (const [index, sample] of samples.entries()) {
      const next = samples[index + 1];
      // `at` has millisecond resolution, latency is finer: allow for the rounding.
      if (next) expect(next.at).toBeGreaterThanOrEqual(sample.at + Math.floor(sample.latencyMs) - 2);
    }
  });

  it('stop() cuts attempts short, records none of them and ends every loop', async () => {
    let requests = 0;
    const url = await serve(() => {
      requests++;
    });
    const pidFile = join(tmpdir(), `simian-sampler-${process.pid}-${Date.now()}.pid`);
    pidFiles.push(pidFile);
    const delivered: ProbeSample[] = [];
    const sampling = sampler(
      [
        probe({ name: 'hung', http: { url, timeout: '30s' }, interval: '10ms' }),
        probe({ name: 'sleeper', command: { run: `echo $$ > ${pidFile}; exec sleep 30`, timeout: '30s' } }),
      ],
      { onSample: (sample) => delivered.push(sample) },
    );
    sampling.start();
    expect(sampling.state).toBe('running');
    await waitFor(() => requests === 1, 'the request');
    await waitFor(() => readPid(pidFile) > 0, 'the sleeper to start');
    const sleeper = readPid(pidFile);

    const stopping = sampling.stop();
    expect(sampling.stop()).toBe(stopping);
    await stopping;
    expect(sampling.state).toBe('stopped');
    expect(sampling.samples()).toEqual([]);
    expect(delivered).toEqual([]);
    await waitFor(() => !isAlive(sleeper), 'the sleeper to die');

    await sleep(100);
    expect(requests).toBe(1);
    expect(delivered).toEqual([]);
  });

  it('delivers nothing after stop()', async () => {
    const url = await serve((_req, res) => res.end());
    const delivered: ProbeSample[] = [];
    const sampling = sampler([probe({ name: 'web', http: { url }, interval: '10ms' })], {
      onSample: (sample) => delivered.push(sample),
    });
    sampling.start();
    await waitFor(() => delivered.length >= 3, 'three samples');
    await sampling.stop();
    const count = delivered.length;
    await sleep(100);
    expect(delivered.length).toBe(count);
    expect(sampling.samples().length).toBe(count);
  });

  it('takes the onSample callback on its own', async () => {
    const delivered: ProbeSample[] = [];
    const sampling = sampler([probe({ name: 'check', command: { run: 'true' } })], (sample) =>
      delivered.push(sample),
    );
    sampling.start();
    await waitFor(() => delivered.length === 1, 'the sample');
    expect(delivered[0]).toMatchObject({ probe: 'check', phase: 'before', ok: true });
  });

  it('starts only once and can be stopped before it starts', async () => {
    const sampling = sampler([probe({ name: 'check', command: { run: 'true' }, interval: '1s' })]);
    sampling.start();
    expect(() => sampling.start()).toThrow('cannot start a probe sampler that is running');
    await sampling.stop();
    expect(() => sampling.start()).toThrow('cannot start a probe sampler that is stopped');

    const idle = sampler([probe({ name: 'check', command: { run: 'true' } })]);
    await idle.stop();
    expect(idle.state).toBe('stopped');
  });

  it('ends sampling when onSample throws and rethrows from stop()', async () => {
    const sampling = sampler([probe({ name: 'check', command: { run: 'true' }, interval: '10ms' })], {
      onSample: () => {
        throw new Error('printer broke');
      },
    });
    sampling.start();
    await waitFor(() => sampling.samples().length === 1, 'the sample');
    await sleep(100);
    expect(sampling.samples()).toHaveLength(1);
    await expect(sampling.stop()).rejects.toThrow('printer broke');
  });
});
