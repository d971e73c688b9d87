import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ManualClock } from '../../scheduler/clock.js';
import { SchedulerService } from '../../scheduler/scheduler-service.js';
import { ServerSchedulerBackend } from '../../scheduler/server-backend.js';
import { OrchestratorServer } from '../../server/orchestrator-server.js';
import { scheduleCommand } from './schedule.js';

const TOKEN = 'schedule-test-token';

const experiment = (name: string, schedule: string) => `apiVersion: simian.dev/v1alpha1
kind: Experiment
metadata:
  name: ${name}
spec:
  target:
    driver: docker
    selector:
      labels: { app: web }
  faults:
    - type: pause
  steadyState:
    probes:
      - name: up
        command: { run: 'true' }
  schedule:
${schedule}
`;

describe('simian schedule', () => {
  let dir: string;
  let tokenFile: string;
  let server: OrchestratorServer;
  let url: URL;
  let service: SchedulerService | undefined;
  const logger = pino({ level: 'silent' });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'simian-schedule-cmd-'));
    tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    server = new OrchestratorServer({ port: 0, token: TOKEN, logger });
    url = new URL((await server.listen()).url);
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('prints each schedule with its next fire in its zone and in UTC, and why the last was skipped', async () => {
    const experiments = join(dir, 'experiments');
    await mkdir(experiments);
    await writeFile(
      join(experiments, 'berlin.yaml'),
      experiment(
        'web-kill-berlin',
        `    cron: "*/30 10-16 * * 1-5"
    timezone: Europe/Berlin
    windows: [{ days: [mon, tue, wed, thu, fri], from: "10:00", to: "16:00" }]`,
      ),
    );
    await writeFile(
      join(experiments, 'random.yaml'),
      experiment('web-pause-random', '    meanTimeBetween: 2h'),
    );
    await writeFile(
      join(experiments, 'broken.yaml'),
      experiment('broken', '    cron: "*/30 10-16 * * 1-5"\n    timezone: Europe/Berln'),
    );
    const clock = new ManualClock('2026-03-25T08:45:00Z');
    service = new SchedulerService({
      dirs: [experiments],
      // The real backend on a real server, with no agent connected: fires find no targets.
      backend: new ServerSchedulerBackend({ server, logger, journalDir: join(dir, 'runs'), agentGraceMs: 0 }),
      stateFile: join(dir, 'scheduler-state.json'),
      logger,
      clock,
      timers: false,
      watch: false,
    });
    server.setScheduleLister(service);
    await service.start();
    clock.set('2026-03-25T09:00:00Z');
    await service.tick();

    const result = await scheduleCommand({ orchestrator: url, tokenFile, json: false });
    expect(result.exitCode).toBe(0);
    const random = (result.json as { schedules: Array<{ nextFire: { utc: string; local: string } }> })
      .schedules[1]?.nextFire;
    if (random === undefined) throw new Error('no random schedule listed');
    expect(result.human).toBe(
      [
        'NAME              TRIGGER                  NEXT FIRE (ZONE)                         NEXT FIRE (UTC)           LAST RESULT',
        'web-kill-berlin   cron */30 10-16 * * 1-5  2026-03-25T10:30:00+01:00 Europe/Berlin  2026-03-25T09:30:00.000Z  skipped: no-targets',
        `web-pause-random  every ~2h ±60m           ${`${random.local} UTC`.padEnd(39)}  ${random.utc}  -`,
        '',
        'web-kill-berlin: last fire 2026-03-25T09:00:00.000Z: no connected agent offers the docker driver',
        '',
        'invalid files (nothing in them is scheduled until they are fixed):',
        `  ${join(experiments, 'broken.yaml')}:18:15: spec.schedule.timezone: unknown time zone 'Europe/Berln'; expected an IANA name such as Europe/Berlin, America/New_York or UTC`,
      ].join('\n'),
    );
  });

  test('says so when the orchestrator schedules nothing', async () => {
    const result = await scheduleCommand({ orchestrator: url, tokenFile, json: true });
    expect(result.json).toEqual({
      enabled: false,
      directories: [],
      schedules: [],
      invalid: [],
      activeRuns: [],
    });
    expect(result.human).toBe(
      'this orchestrator runs no schedules: start `simian serve` with --experiments DIR',
    );
  });

  test('refuses a wrong token', async () => {
    await writeFile(tokenFile, 'wrong\n');
    await expect(scheduleCommand({ orchestrator: url, tokenFile, json: false })).rejects.toMatchObject({
      code: 'SIMIAN_UNAUTHORIZED',
    });
  });
});
