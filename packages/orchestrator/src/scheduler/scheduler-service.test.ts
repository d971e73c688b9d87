import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DriverName, type Selector, SimianError } from '@simian/protocol';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ManualClock } from './clock.js';
import type { Candidate } from './decide.js';
import { scheduleListingSchema } from './schedule-listing.js';
import {
  type ScheduledRunEnd,
  type ScheduledRunRequest,
  type SchedulerBackend,
  SchedulerService,
  type SchedulerServiceOptions,
  type StartedScheduledRun,
} from './scheduler-service.js';

const OPT_IN = { 'simian.dev/chaos': 'enabled' };

/** Stands in for the hub and the server: targets by label, runs the test finishes by hand. */
class FakeBackend implements SchedulerBackend {
  targets: Candidate[] = [];
  agents = true;
  listError: Error | undefined;
  readonly listed: Selector[] = [];
  readonly runs: Array<{
    request: ScheduledRunRequest;
    runId: string;
    finish: (end: ScheduledRunEnd) => void;
  }> = [];

  async listTargets(driver: DriverName, selector: Selector): Promise<Candidate[]> {
    this.listed.push(selector);
    if (this.listError) throw this.listError;
    if (!this.agents)
      throw new SimianError('SIMIAN_NO_AGENTS', `no connected agent offers the ${driver} driver`);
    return this.targets.filter((target) =>
      Object.entries(selector.labels).every(([key, value]) => target.labels[key] === value),
    );
  }

  async startRun(request: ScheduledRunRequest): Promise<StartedScheduledRun> {
    const runId = `run-${this.runs.length + 1}`;
    let finish: (end: ScheduledRunEnd) => void = () => {};
    const done = new Promise<ScheduledRunEnd>((resolve) => {
      finish = resolve;
    });
    this.runs.push({ request, runId, finish });
    return { runId, done };
  }

  /** Ends a run and waits until the scheduler has seen it end. */
  async finish(service: SchedulerService, runId: string, verdict: ScheduledRunEnd['verdict'] = 'passed') {
    const run = this.runs.find((candidate) => candidate.runId === runId);
    if (!run) throw new Error(`no run ${runId}`);
    run.finish({ verdict, reason: `the run ${verdict}` });
    await service.flush();
  }
}

function experimentYaml(name: string, schedule: Record<string, unknown>, labels = 'app: web'): string {
  const lines = Object.entries(schedule).map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`);
  return `apiVersion: simian.dev/v1alpha1
kind: Experiment
metadata:
  name: ${name}
spec:
  target:
    driver: docker
    selector:
      labels: { ${labels} }
  faults:
    - type: pause
  duration: 1s
  steadyState:
    probes:
      - name: up
        command: { run: 'true' }
  schedule:
${lines.join('\n')}
`;
}

/** Polls until `check` holds; fs.watch events take an unknown (small) time to arrive. */
async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('SchedulerService', () => {
  let dir: string;
  let experiments: string;
  const services: SchedulerService[] = [];
  const logger = pino({ level: 'silent' });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'simian-scheduler-'));
    experiments = join(dir, 'experiments');
    await mkdir(experiments);
  });
  afterEach(async () => {
    for (const service of services.splice(0)) await service.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function write(name: string, text: string): Promise<string> {
    const path = join(experiments, name);
    await writeFile(path, text);
    return path;
  }

  async function startService(
    clock: ManualClock,
    backend: FakeBackend,
    options: Partial<SchedulerServiceOptions> = {},
  ): Promise<SchedulerService> {
    const service = new SchedulerService({
      dirs: [experiments],
      backend,
      stateFile: join(dir, 'state', 'scheduler-state.json'),
      logger,
      clock,
      timers: false,
      watch: false,
      ...options,
    });
    services.push(service);
    await service.start();
    return service;
  }

  function entry(service: SchedulerService, name: string) {
    const found = service.list().schedules.find((schedule) => schedule.name === name);
    if (!found) throw new Error(`no schedule ${name}`);
    return found;
  }

  test('fires on time, on opted-in targets only, and counts the next fire from the last', async () => {
    await write('web-kill.yaml', experimentYaml('web-kill', { cron: '*/30 * * * *' }));
    const clock = new ManualClock('2026-03-25T09:10:00Z');
    const backend = new FakeBackend();
    backend.targets = [
      { id: 'web-1', labels: { app: 'web', ...OPT_IN } },
      { id: 'web-2', labels: { app: 'web' } },
    ];
    const service = await startService(clock, backend);
    expect(service.state).toBe('running');
    expect(entry(service, 'web-kill')).toMatchObject({
      file: join(experiments, 'web-kill.yaml'),
      trigger: { kind: 'cron', cron: '*/30 * * * *' },
      timeZone: 'UTC',
      targetGroup: 'docker:app=web',
      optInLabel: 'simian.dev/chaos=enabled',
      nextFire: { utc: '2026-03-25T09:30:00.000Z', local: '2026-03-25T09:30:00+00:00', timeZone: 'UTC' },
      lastFire: null,
      lastResult: null,
      runningRunId: null,
    });

    clock.set('2026-03-25T09:29:59.999Z');
    await service.tick();
    expect(backend.runs).toHaveLength(0);

    clock.set('2026-03-25T09:30:00.050Z');
    await service.tick();
    expect(backend.runs).toHaveLength(1);
    const [run] = backend.runs;
    // The run resolves targets with the opt-in label added to the experiment's selector.
    expect(run?.request.experiment.spec.target.selector.labels).toEqual({ app: 'web', ...OPT_IN });
    expect(run?.request).toMatchObject({ schedule: 'web-kill', targetGroup: 'docker:app=web' });
    expect(run?.request.firedAt.toISOString()).toBe('2026-03-25T09:30:00.000Z');
    expect(entry(service, 'web-kill')).toMatchObject({
      nextFire: { utc: '2026-03-25T10:00:00.000Z' },
      lastFire: { utc: '2026-03-25T09:30:00.000Z' },
      lastResult: { outcome: 'ran', runId: 'run-1', at: '2026-03-25T09:30:00.050Z' },
      lastRun: { runId: 'run-1', startedAt: '2026-03-25T09:30:00.050Z' },
      runningRunId: 'run-1',
    });
    expect(service.list().activeRuns).toEqual([
      {
        runId: 'run-1',
        schedule: 'web-kill',
        targetGroup: 'docker:app=web',
        startedAt: '2026-03-25T09:30:00.050Z',
      },
    ]);

    clock.set('2026-03-25T09:31:00Z');
    await backend.finish(service, 'run-1');
    expect(entry(service, 'web-kill')).toMatchObject({
      runningRunId: null,
      lastRun: {
        runId: 'run-1',
        verdict: 'passed',
        reason: 'the run passed',
        endedAt: '2026-03-25T09:31:00.000Z',
      },
    });
    expect(service.list().activeRuns).toEqual([]);

    clock.set('2026-03-25T10:00:00Z');
    await service.tick();
    expect(backend.runs).toHaveLength(2);
    // The listing is what GET /v1/schedules sends: it must match its own schema.
    expect(scheduleListingSchema.safeParse(service.list()).success).toBe(true);
  });

  test('records outside-window and blackout skips with their detail', async () => {
    await write(
      'business-hours.yaml',
      experimentYaml('business-hours', {
        cron: '*/30 * * * *',
        timezone: 'Europe/Berlin',
        windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '10:00', to: '16:00' }],
        blackouts: ['2026-03-26'],
      }),
    );
    // Wednesday 2026-03-25 16:20 CET.
    const clock = new ManualClock('2026-03-25T15:20:00Z');
    const backend = new FakeBackend();
    backend.targets = [{ id: 'web-1', labels: { app: 'web', ...OPT_IN } }];
    const service = await startService(clock, backend);
    // The listing already says the next fire falls outside the windows, and when one will not.
    expect(entry(service, 'business-hours')).toMatchObject({
      nextFire: { utc: '2026-03-25T15:30:00.000Z', local: '2026-03-25T16:30:00+01:00' },
      nextFireSkip: { reason: 'outside-window' },
      // Thursday is a blackout day: the next allowed fire is Friday 10:00 CET.
      nextAllowedFire: { utc: '2026-03-27T09:00:00.000Z', local: '2026-03-27T10:00:00+01:00' },
    });

    clock.set('2026-03-25T15:30:00Z');
    await service.tick();
    expect(entry(service, 'business-hours').lastResult).toEqual({
      outcome: 'skipped',
      reason: 'outside-window',
      detail:
        '2026-03-25T16:30:00+01:00 (Europe/Berlin) is outside the windows (mon,tue,wed,thu,fri 10:00-16:00)',
      at: '2026-03-25T15:30:00.000Z',
    });

    // Thursday 10:00 CET, inside the window but a blackout day. Fires in between were long missed.
    clock.set('2026-03-26T09:00:00Z');
    await service.tick();
    expect(entry(service, 'business-hours').lastResult).toMatchObject({
      outcome: 'skipped',
      reason: 'missed',
    });
    clock.set('2026-03-26T09:30:00Z');
    await service.tick();
    expect(entry(service, 'business-hours').lastResult).toEqual({
      outcome: 'skipped',
      reason: 'blackout',
      detail: '2026-03-26T10:30:00+01:00 (Europe/Berlin) is in blackout 2026-03-26',
      at: '2026-03-26T09:30:00.000Z',
    });
    // Neither skip asked the agents for targets, and nothing ran.
    expect(backend.listed).toEqual([]);
    expect(backend.runs).toEqual([]);
  });

  test('records not-opted-in and no-targets skips', async () => {
    await write('web.yaml', experimentYaml('web', { cron: '* * * * *' }));
    const clock = new ManualClock('2026-03-25T09:00:30Z');
    const backend = new FakeBackend();
    backend.targets = [
      { id: 'web-1', labels: { app: 'web' } },
      { id: 'web-2', labels: { app: 'web', 'simian.dev/chaos': 'disabled' } },
      { id: 'web-3', labels: { app: 'web', ...OPT_IN, 'simian.dev/protected': 'true' } },
      { id: 'db-1', labels: { app: 'db', ...OPT_IN } },
    ];
    const service = await startService(clock, backend);

    clock.set('2026-03-25T09:01:00Z');
    await service.tick();
    expect(entry(service, 'web').lastResult).toEqual({
      outcome: 'skipped',
      reason: 'not-opted-in',
      detail: '2 targets match the selector, but none carries the opt-in label simian.dev/chaos=enabled',
      at: '2026-03-25T09:01:00.000Z',
    });
    // The agents are asked with the experiment's own selector, so "not opted in" can be told apart.
    expect(backend.listed).toEqual([{ labels: { app: 'web' } }]);

    backend.targets = [];
    clock.set('2026-03-25T09:02:00Z');
    await service.tick();
    expect(entry(service, 'web').lastResult).toMatchObject({ outcome: 'skipped', reason: 'no-targets' });

    backend.agents = false;
    clock.set('2026-03-25T09:03:00Z');
    await service.tick();
    expect(entry(service, 'web').lastResult).toEqual({
      outcome: 'skipped',
      reason: 'no-targets',
      detail: 'no connected agent offers the docker driver',
      at: '2026-03-25T09:03:00.000Z',
    });

    backend.listError = new Error('agent host-a did not answer list-targets within 15000ms');
    clock.set('2026-03-25T09:04:00Z');
    await service.tick();
    expect(entry(service, 'web').lastResult).toEqual({
      outcome: 'error',
      detail: 'cannot list targets: agent host-a did not answer list-targets within 15000ms',
      at: '2026-03-25T09:04:00.000Z',
    });
    expect(backend.runs).toEqual([]);
    // A skipped or failed fire still moves on to the next one.
    expect(entry(service, 'web').nextFire.utc).toBe('2026-03-25T09:05:00.000Z');
  });

  test('runs one run per target group at a time (target-busy)', async () => {
    await write('kill.yaml', experimentYaml('web-kill', { cron: '*/5 * * * *' }));
    // Another selector, but the same declared group.
    await write(
      'pause.yaml',
      experimentYaml(
        'web-pause',
        { cron: '*/5 * * * *', targetGroup: 'docker:app=web' },
        'app: web, tier: front',
      ),
    );
    const clock = new ManualClock('2026-03-25T09:01:00Z');
    const backend = new FakeBackend();
    backend.targets = [{ id: 'web-1', labels: { app: 'web', tier: 'front', ...OPT_IN } }];
    const service = await startService(clock, backend);

    clock.set('2026-03-25T09:05:00Z');
    await service.tick();
    expect(backend.runs.map((run) => run.request.schedule)).toEqual(['web-kill']);
    expect(entry(service, 'web-pause').lastResult).toEqual({
      outcome: 'skipped',
      reason: 'target-busy',
      detail: 'target group docker:app=web already has a run in progress',
      at: '2026-03-25T09:05:00.000Z',
    });

    // The first run is still going at the next fire: both are held back, web-kill by its own run.
    clock.set('2026-03-25T09:10:00Z');
    await service.tick();
    expect(backend.runs).toHaveLength(1);
    expect(entry(service, 'web-kill').lastResult).toMatchObject({
      outcome: 'skipped',
      reason: 'target-busy',
    });
    expect(entry(service, 'web-kill').runningRunId).toBe('run-1');

    await backend.finish(service, 'run-1');
    clock.set('2026-03-25T09:15:00Z');
    await service.tick();
    // Fires are handled in name order; the first one takes the group again.
    expect(backend.runs.map((run) => run.request.schedule)).toEqual(['web-kill', 'web-kill']);
    expect(entry(service, 'web-pause').lastResult).toMatchObject({ reason: 'target-busy' });

    await backend.finish(service, 'run-2');
    clock.set('2026-03-25T09:20:00Z');
    await rm(join(experiments, 'kill.yaml'));
    await service.reload();
    await service.tick();
    expect(backend.runs.map((run) => run.request.schedule)).toEqual(['web-kill', 'web-kill', 'web-pause']);
  });

  test('reloads on change: an invalid file is reported while the others keep their schedules', async () => {
    const good = await write('good.yaml', experimentYaml('good', { cron: '* * * * *' }));
    const clock = new ManualClock('2026-03-25T09:00:30Z');
    const backend = new FakeBackend();
    backend.targets = [{ id: 'web-1', labels: { app: 'web', ...OPT_IN } }];
    const service = await startService(clock, backend, { watch: true, debounceMs: 50, rescanMs: 0 });
    let reloads = 0;
    service.on('reloaded', () => {
      reloads += 1;
    });
    expect(service.list().schedules.map((schedule) => schedule.name)).toEqual(['good']);

    const bad = await write(
      'bad.yaml',
      experimentYaml('bad', { cron: '61 10 * * *', timezone: 'Mars/Olympus' }),
    );
    await eventually(() => service.list().invalid.length > 0);
    expect(service.list().invalid).toEqual([
      {
        file: bad,
        errors: [
          `${bad}:18:11: spec.schedule.cron: '61' is not a valid minute; expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first`,
          `${bad}:19:15: spec.schedule.timezone: unknown time zone 'Mars/Olympus'; expected an IANA name such as Europe/Berlin, America/New_York or UTC`,
        ],
      },
    ]);
    expect(service.list().schedules.map((schedule) => schedule.name)).toEqual(['good']);
    clock.set('2026-03-25T09:01:00Z');
    await service.tick();
    expect(backend.runs.map((run) => run.request.schedule)).toEqual(['good']);

    // An editor's save: a new file renamed over the old one, here with another cron.
    const before = reloads;
    await writeFile(`${good}.swp`, experimentYaml('good', { cron: '*/10 * * * *' }));
    await rename(`${good}.swp`, good);
    await eventually(() => {
      if (reloads === before) return false;
      const { trigger } = entry(service, 'good');
      return trigger.kind === 'cron' && trigger.cron === '*/10 * * * *';
    });
    // A changed schedule counts from now; its run in progress is still known.
    expect(entry(service, 'good')).toMatchObject({
      nextFire: { utc: '2026-03-25T09:10:00.000Z' },
      runningRunId: 'run-1',
    });

    // Fixing the bad file schedules it; removing the good one drops its schedule, not its run.
    await writeFile(bad, experimentYaml('bad', { cron: '0 10 * * *' }));
    await rm(good);
    await eventually(() => {
      const listing = service.list();
      return listing.invalid.length === 0 && listing.schedules.map((s) => s.name).join() === 'bad';
    });
    expect(service.list().activeRuns.map((run) => run.runId)).toEqual(['run-1']);
    await backend.finish(service, 'run-1');
    expect(service.list().activeRuns).toEqual([]);

    // Files in new subdirectories are found too.
    await mkdir(join(experiments, 'team-a'));
    await writeFile(
      join(experiments, 'team-a', 'nested.yaml'),
      experimentYaml('nested', { cron: '0 * * * *' }),
    );
    await eventually(() => service.list().schedules.some((schedule) => schedule.name === 'nested'));
  });

  test('ignores files of other kinds and files without a schedule; refuses a schedule name used twice', async () => {
    await write('a.yaml', experimentYaml('twin', { cron: '0 * * * *' }));
    const second = await write('b.yaml', experimentYaml('twin', { cron: '30 * * * *' }));
    await write(
      'gameday.yaml',
      'apiVersion: simian.dev/v1alpha1\nkind: GameDay\nmetadata: { name: gd }\nspec: { experiments: [] }\n',
    );
    await write('unscheduled.yaml', experimentYaml('unscheduled', {}).replace(/ {2}schedule:\n+$/, ''));
    const service = await startService(new ManualClock('2026-03-25T09:00:00Z'), new FakeBackend());
    const listing = service.list();
    expect(listing.schedules.map((schedule) => [schedule.name, schedule.file])).toEqual([
      ['twin', join(experiments, 'a.yaml')],
    ]);
    expect(listing.invalid).toEqual([
      {
        file: second,
        errors: [
          `${second}:4:9: metadata.name: 'twin' already names the schedule in ${join(experiments, 'a.yaml')}; scheduled experiments need distinct names`,
        ],
      },
    ]);
  });

  test('refuses to start on a directory that does not exist', async () => {
    const service = new SchedulerService({
      dirs: [join(dir, 'nope')],
      backend: new FakeBackend(),
      stateFile: join(dir, 'state.json'),
      logger,
      timers: false,
      watch: false,
    });
    await expect(service.start()).rejects.toMatchObject({ code: 'SIMIAN_FILE_NOT_FOUND' });
  });

  describe('missed-run policy on start', () => {
    const hourly = () => write('hourly.yaml', experimentYaml('hourly', { cron: '0 * * * *' }));

    /** Runs a scheduler that fires at 10:00 and stops, as an orchestrator that then goes down. */
    async function firstLife(backend: FakeBackend): Promise<void> {
      backend.targets = [{ id: 'web-1', labels: { app: 'web', ...OPT_IN } }];
      const clock = new ManualClock('2026-03-25T09:30:00Z');
      const service = await startService(clock, backend);
      clock.set('2026-03-25T10:00:00Z');
      await service.tick();
      expect(backend.runs).toHaveLength(1);
      await service.stop();
      expect(service.state).toBe('stopped');
    }

    test('the last fire is kept durably in the state file', async () => {
      await hourly();
      await firstLife(new FakeBackend());
      const state = JSON.parse(await readFile(join(dir, 'state', 'scheduler-state.json'), 'utf8'));
      expect(state).toMatchObject({
        apiVersion: 'simian.dev/v1alpha1',
        kind: 'SchedulerState',
        schedules: {
          hourly: {
            countFrom: '2026-03-25T10:00:00.000Z',
            lastFire: '2026-03-25T10:00:00.000Z',
            lastResult: { outcome: 'ran', runId: 'run-1' },
          },
        },
      });
      // Written through a temporary file renamed over the old one: none is left behind.
      expect(await readdir(join(dir, 'state'))).toEqual(['scheduler-state.json']);
    });

    test('a fire missed by a few minutes is replayed once, late fires before it are skipped', async () => {
      await hourly();
      const backend = new FakeBackend();
      await firstLife(backend);
      await backend.finish(services[0] as SchedulerService, 'run-1');
      // Down from 10:30 to 13:05: 11:00 and 12:00 are missed, 13:00 is 5 minutes late.
      const clock = new ManualClock('2026-03-25T13:05:00Z');
      const service = await startService(clock, backend);
      expect(entry(service, 'hourly').nextFire.utc).toBe('2026-03-25T11:00:00.000Z');
      await service.tick();
      expect(backend.runs).toHaveLength(2);
      expect(backend.runs[1]?.request.firedAt.toISOString()).toBe('2026-03-25T13:00:00.000Z');
      expect(entry(service, 'hourly')).toMatchObject({
        lastFire: { utc: '2026-03-25T13:00:00.000Z' },
        lastResult: {
          outcome: 'ran',
          runId: 'run-2',
          note: 'replayed the fire of 2026-03-25T13:00:00.000Z, 5m late; 2 earlier fires were skipped as missed',
        },
        nextFire: { utc: '2026-03-25T14:00:00.000Z' },
      });
    });

    test('a fire missed by more than its grace is skipped as missed, not run', async () => {
      await hourly();
      const backend = new FakeBackend();
      await firstLife(backend);
      const clock = new ManualClock('2026-03-25T12:30:00Z');
      const service = await startService(clock, backend);
      await service.tick();
      expect(backend.runs).toHaveLength(1);
      expect(entry(service, 'hourly')).toMatchObject({
        lastFire: { utc: '2026-03-25T12:00:00.000Z' },
        lastResult: {
          outcome: 'skipped',
          reason: 'missed',
          detail:
            '2 fires came due while the orchestrator was down (since 2026-03-25T11:00:00.000Z); the latest, 2026-03-25T12:00:00.000Z, is 30m late, past its grace of 10m',
        },
        nextFire: { utc: '2026-03-25T13:00:00.000Z' },
      });
    });

    test('nothing is missed on a first start, or when the schedule changed while down', async () => {
      await hourly();
      const backend = new FakeBackend();
      backend.targets = [{ id: 'web-1', labels: { app: 'web', ...OPT_IN } }];
      const first = await startService(new ManualClock('2026-03-25T10:05:00Z'), backend);
      await first.tick();
      expect(backend.runs).toHaveLength(0);
      expect(entry(first, 'hourly').nextFire.utc).toBe('2026-03-25T11:00:00.000Z');
      await first.stop();

      await write('hourly.yaml', experimentYaml('hourly', { cron: '30 * * * *' }));
      const second = await startService(new ManualClock('2026-03-25T13:05:00Z'), backend);
      await second.tick();
      expect(backend.runs).toHaveLength(0);
      expect(entry(second, 'hourly')).toMatchObject({
        nextFire: { utc: '2026-03-25T13:30:00.000Z' },
        lastResult: null,
      });
    });

    test('an unreadable state file is moved aside and counts as a first start', async () => {
      await hourly();
      await mkdir(join(dir, 'state'));
      await writeFile(join(dir, 'state', 'scheduler-state.json'), '{"half a write');
      const backend = new FakeBackend();
      const service = await startService(new ManualClock('2026-03-25T10:05:00Z'), backend);
      await service.tick();
      expect(backend.runs).toHaveLength(0);
      expect(entry(service, 'hourly').nextFire.utc).toBe('2026-03-25T11:00:00.000Z');
      await service.stop();
      const files = (await readdir(join(dir, 'state'))).sort();
      expect(files).toHaveLength(2);
      expect(files[0]).toBe('scheduler-state.json');
      expect(files[1]).toMatch(/^scheduler-state\.json\.corrupt-\d{4}-\d{2}-\d{2}T\d{9}Z$/);
    });
  });

  test('a random schedule (meanTimeBetween) fires at the drawn times and lists its trigger', async () => {
    await write('random.yaml', experimentYaml('random', { meanTimeBetween: '2h', jitter: '30m' }));
    const clock = new ManualClock('2026-03-25T09:00:00Z');
    const backend = new FakeBackend();
    backend.targets = [{ id: 'web-1', labels: { app: 'web', ...OPT_IN } }];
    const service = await startService(clock, backend);
    const first = entry(service, 'random');
    expect(first.trigger).toEqual({ kind: 'random', meanTimeBetween: '2h', jitter: '30m' });
    const at = Date.parse(first.nextFire.utc);
    expect(at - Date.parse('2026-03-25T09:00:00Z')).toBeGreaterThanOrEqual(90 * 60_000);
    expect(at - Date.parse('2026-03-25T09:00:00Z')).toBeLessThanOrEqual(150 * 60_000);
    clock.set(at);
    await service.tick();
    expect(backend.runs).toHaveLength(1);
    expect(Date.parse(entry(service, 'random').nextFire.utc) - at).toBeGreaterThanOrEqual(90 * 60_000);
  });

  test('stops cleanly on its signal: no more fires', async () => {
    await write('web.yaml', experimentYaml('web', { cron: '* * * * *' }));
    const clock = new ManualClock('2026-03-25T09:00:30Z');
    const backend = new FakeBackend();
    backend.targets = [{ id: 'web-1', labels: { app: 'web', ...OPT_IN } }];
    const controller = new AbortController();
    const service = new SchedulerService({
      dirs: [experiments],
      backend,
      stateFile: join(dir, 'state.json'),
      logger,
      clock,
      watch: false,
    });
    services.push(service);
    await service.start(controller.signal);
    controller.abort();
    await service.stop();
    expect(service.state).toBe('stopped');
    clock.set('2026-03-25T09:05:00Z');
    await service.tick();
    expect(backend.runs).toEqual([]);
  });
});
