import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { type DriverName, formatDuration, isSimianError, type Selector } from '@simian/protocol';
import type { Logger } from 'pino';
import { LineCounter, parseDocument } from 'yaml';
import { collectExperimentFiles, formatIssue, parseExperimentSource } from '../experiments/load.js';
import type { Experiment } from '../experiments/schema.js';
import { locatePath, positionAt } from '../experiments/source-positions.js';
import type { Verdict } from '../runner/journal.js';
import { candidateSelector } from '../runner/select-targets.js';
import { type Clock, SystemClock } from './clock.js';
import { type Candidate, decideRun } from './decide.js';
import { ExperimentWatcher } from './experiment-watcher.js';
import { MAX_MISSED_RUN_GRACE_MS, planMissedRuns } from './missed-runs.js';
import { describeFireTime, nextAllowedFire, nextFireAfter, upcomingFires } from './next-fire.js';
import { planSchedule, type SchedulePlan, scheduledSelector } from './plan.js';
import type { ScheduleEntry, ScheduleListing, ScheduleResult } from './schedule-listing.js';
import { type ScheduleRecord, ScheduleStateFile } from './schedule-state-file.js';

/** Lifecycle of the scheduler inside `simian serve`. */
export type SchedulerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** A run the scheduler wants started. */
export interface ScheduledRunRequest {
  /** The experiment as the run gets it: its selector also demands the opt-in label. */
  experiment: Experiment;
  file: string;
  /** The schedule's name (the experiment's `metadata.name`). */
  schedule: string;
  targetGroup: string;
  firedAt: Date;
}

/** How a scheduled run ended. */
export interface ScheduledRunEnd {
  verdict: Verdict;
  reason: string;
}

export interface StartedScheduledRun {
  runId: string;
  /** Settles once the run has ended and its journal is kept. */
  done: Promise<ScheduledRunEnd>;
}

/**
 * What the scheduler needs from the orchestrator: the targets agents list, and a way to start a
 * run. `simian serve` wires it to the hub and to the same code path as `POST /v1/runs`.
 */
export interface SchedulerBackend {
  /**
   * Targets matching `selector` on every agent offering `driver`, as the runner lists them.
   * `signal` aborts when the scheduler stops: stop waiting.
   * @throws SimianError SIMIAN_NO_AGENTS when no connected agent offers the driver.
   */
  listTargets(driver: DriverName, selector: Selector, signal: AbortSignal): Promise<Candidate[]>;
  /** Resolves once the run is started (and recorded); its end comes with `done`. */
  startRun(request: ScheduledRunRequest): Promise<StartedScheduledRun>;
}

export interface SchedulerServiceOptions {
  /** Directories holding experiment files (`simian serve --experiments`), walked like `simian validate`. */
  dirs: readonly string[];
  backend: SchedulerBackend;
  /** The JSON file that keeps each schedule's last fire across restarts. */
  stateFile: string;
  logger: Logger;
  /** @default the system clock */
  clock?: Clock;
  /** Arm timers for the fires; without them only {@link SchedulerService.tick} fires. @default true */
  timers?: boolean;
  /** Reload when files under `dirs` change. @default true */
  watch?: boolean;
  /** Quiet time after file events before a reload. @default 200 */
  debounceMs?: number;
  /** Reload this often even without file events; 0: never. @default 60000 */
  rescanMs?: number;
}

interface ServiceEvents {
  reloaded: [];
  fired: [schedule: string, result: ScheduleResult];
  'run-ended': [schedule: string, runId: string];
}

interface LoadedSchedule {
  name: string;
  file: string;
  source: string;
  experiment: Experiment;
  plan: SchedulePlan;
  record: ScheduleRecord;
  runningRunId: string | undefined;
}

interface ActiveRun {
  schedule: string;
  targetGroup: string;
  startedAt: string;
}

/**
 * Timers are re-armed at least this often, so a wall clock that jumps (NTP, a suspended machine)
 * is noticed within a minute: Node's timers run on the monotonic clock.
 */
const MAX_TIMER_MS = 60_000;

/**
 * Runs experiments on their `spec.schedule` inside `simian serve`. It keeps one state per
 * schedule (the fire the next one is counted from, the last fire and its outcome, the run in
 * progress), arms one timer for the earliest next fire, and on a fire asks `decideRun` whether to
 * start a run (windows, blackouts, a busy target group, targets, opt-in). Files are reloaded when
 * they change; an invalid file schedules nothing and is listed with its errors, and the other
 * schedules go on. docs/scheduling.md describes the behaviour.
 */
export class SchedulerService extends EventEmitter<ServiceEvents> {
  readonly #options: SchedulerServiceOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #stateFile: ScheduleStateFile;
  readonly #schedules = new Map<string, LoadedSchedule>();
  /** By file: the errors last reported, so an unchanged invalid file is logged once. */
  #invalid = new Map<string, string[]>();
  readonly #activeRuns = new Map<string, ActiveRun>();
  readonly #completions = new Set<Promise<void>>();
  /** Schedules loaded since start: one that comes back after being removed starts afresh. */
  readonly #seen = new Set<string>();
  #state: SchedulerState = 'created';
  #watcher: ExperimentWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Ticks and reloads run one at a time, in order. */
  #chain: Promise<void> = Promise.resolve();
  #stopped: Promise<void> | undefined;
  readonly #stopping = new AbortController();

  constructor(options: SchedulerServiceOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? new SystemClock();
    this.#logger = options.logger.child({ component: 'scheduler' });
    this.#stateFile = new ScheduleStateFile(options.stateFile, this.#logger);
  }

  get state(): SchedulerState {
    return this.#state;
  }

  /**
   * Reads the state file and the experiment files, then fires on schedule until `stop` (or
   * `signal`). Fires that came due while the orchestrator was down go through the missed-run policy.
   * @throws SimianError SIMIAN_FILE_NOT_FOUND when a directory does not exist.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#state !== 'created') throw new Error(`scheduler cannot start: it is ${this.#state}`);
    this.#state = 'starting';
    try {
      await this.#begin();
    } catch (error) {
      this.#state = 'stopped';
      this.#watcher?.close();
      throw error;
    }
    if (signal?.aborted) await this.stop();
    signal?.addEventListener(
      'abort',
      () => {
        this.stop().catch((error: unknown) =>
          this.#logger.error({ err: (error as Error).message }, 'scheduler stop failed'),
        );
      },
      { once: true },
    );
  }

  async #begin(): Promise<void> {
    // A misspelt directory should stop `simian serve` at once, not schedule nothing in silence.
    await collectExperimentFiles(this.#options.dirs);
    await this.#stateFile.load();
    if (this.#options.watch ?? true) {
      this.#watcher = new ExperimentWatcher({
        dirs: this.#options.dirs,
        logger: this.#logger,
        onChange: () => {
          this.reload().catch((error: unknown) =>
            this.#logger.error({ err: (error as Error).message }, 'reload failed'),
          );
        },
        ...(this.#options.debounceMs === undefined ? {} : { debounceMs: this.#options.debounceMs }),
        ...(this.#options.rescanMs === undefined ? {} : { rescanMs: this.#options.rescanMs }),
      });
    }
    this.#state = 'running';
    await this.reload();
  }

  /**
   * Stops firing: no timer, no watcher, waits for a fire being handled. Runs in progress are left
   * alone (`simian serve` aborts them on shutdown like any other run).
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#state = 'stopping';
    this.#stopping.abort();
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#stopped = (async () => {
      await this.#chain;
      await this.#stateFile.flush();
      this.#state = 'stopped';
    })();
    return this.#stopped;
  }

  /** Waits until every run started so far has ended and its outcome is saved. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#completions]);
    await this.#stateFile.flush();
  }

  /** Reads the experiment directories again and applies what changed. */
  reload(): Promise<void> {
    return this.#serialized(() => this.#reload());
  }

  /** Handles every fire that is due by the clock, then arms the timer for the next. */
  tick(): Promise<void> {
    return this.#serialized(() => this.#tick());
  }

  /** What `GET /v1/schedules` answers. */
  list(): ScheduleListing {
    const schedules = [...this.#schedules.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((schedule) => this.#describe(schedule));
    return {
      enabled: true,
      directories: [...this.#options.dirs],
      schedules,
      invalid: [...this.#invalid].map(([file, errors]) => ({ file, errors })),
      activeRuns: [...this.#activeRuns].map(([runId, run]) => ({ runId, ...run })),
    };
  }

  #serialized(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(work);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #reload(): Promise<void> {
    if (this.#state !== 'running') return;
    const now = this.#clock.now();
    const found = new Map<string, Omit<LoadedSchedule, 'record' | 'runningRunId'>>();
    const invalid = new Map<string, string[]>();
    for (const dir of this.#options.dirs) {
      let files: string[];
      try {
        files = await collectExperimentFiles([dir]);
      } catch (error) {
        invalid.set(dir, [`${(error as Error).message}; its schedules are off until it is back`]);
        continue;
      }
      for (const file of files) {
        let source: string;
        try {
          source = await readFile(file, 'utf8');
        } catch (error) {
          // Gone between listing and reading: an editor's save in progress, or a removal.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          invalid.set(file, [`${file}: cannot read: ${(error as Error).message}`]);
          continue;
        }
        if (!declaresExperiment(source)) continue;
        const parsed = parseExperimentSource(source, file);
        if (!parsed.ok) {
          invalid.set(file, parsed.issues.map(formatIssue));
          continue;
        }
        const plan = planSchedule(parsed.experiment);
        if (plan === undefined) continue;
        const taken = found.get(plan.experiment);
        if (taken !== undefined) {
          invalid.set(file, [
            `${nameLocation(file, source)}: metadata.name: '${plan.experiment}' already names the schedule in ${taken.file}; scheduled experiments need distinct names`,
          ]);
          continue;
        }
        found.set(plan.experiment, {
          name: plan.experiment,
          file,
          source,
          experiment: parsed.experiment,
          plan,
        });
      }
    }
    if (this.#state !== 'running') return;
    this.#applyInvalid(invalid);
    for (const [name, schedule] of this.#schedules) {
      if (found.has(name)) continue;
      this.#schedules.delete(name);
      this.#logger.info(
        { schedule: name, file: schedule.file, runningRunId: schedule.runningRunId },
        schedule.runningRunId === undefined
          ? 'schedule removed'
          : 'schedule removed; its run in progress is left to finish',
      );
    }
    for (const [name, loaded] of found) this.#adopt(name, loaded, now);
    await this.#watcher?.sync();
    this.#arm();
    this.emit('reloaded');
  }

  /** Takes a schedule found on disk: new, unchanged, with new content, or with a new schedule. */
  #adopt(name: string, loaded: Omit<LoadedSchedule, 'record' | 'runningRunId'>, now: Date): void {
    const fingerprint = JSON.stringify(loaded.plan);
    const current = this.#schedules.get(name);
    if (current !== undefined && current.record.fingerprint === fingerprint) {
      if (current.source !== loaded.source || current.file !== loaded.file) {
        Object.assign(current, { file: loaded.file, source: loaded.source, experiment: loaded.experiment });
        this.#logger.info(
          { schedule: name, file: loaded.file },
          'experiment updated; its schedule is unchanged',
        );
      }
      return;
    }
    // At start, the schedule the state file remembers continues where it was, and fires that came
    // due while the orchestrator was down go through the missed-run policy on the first tick. A
    // changed schedule, or one that comes back after it was removed, counts its fires from now.
    const previous = current?.record ?? this.#stateFile.get(name);
    const resume = current === undefined && !this.#seen.has(name);
    this.#seen.add(name);
    const record: ScheduleRecord =
      resume && previous !== undefined && previous.fingerprint === fingerprint
        ? previous
        : {
            fingerprint,
            countFrom: now.toISOString(),
            ...(previous?.lastFire === undefined ? {} : { lastFire: previous.lastFire }),
            ...(previous?.lastResult === undefined ? {} : { lastResult: previous.lastResult }),
            ...(previous?.lastRun === undefined ? {} : { lastRun: previous.lastRun }),
          };
    if (record !== previous) this.#stateFile.set(name, record);
    const running = [...this.#activeRuns].find(([, run]) => run.schedule === name)?.[0];
    const schedule: LoadedSchedule = { ...loaded, record, runningRunId: running };
    this.#schedules.set(name, schedule);
    const next = describeFireTime(this.#nextFire(schedule), loaded.plan.timeZone);
    this.#logger.info(
      { schedule: name, file: loaded.file, targetGroup: loaded.plan.targetGroup, nextFire: next },
      current === undefined ? 'schedule loaded' : 'schedule changed; counting fires from now',
    );
  }

  #applyInvalid(invalid: Map<string, string[]>): void {
    for (const [file, errors] of invalid) {
      const before = this.#invalid.get(file);
      if (before !== undefined && before.join('\n') === errors.join('\n')) continue;
      this.#logger.error(
        { file, errors },
        `invalid experiment file, nothing in it is scheduled: ${errors.join(' | ')}`,
      );
    }
    for (const file of this.#invalid.keys()) {
      if (!invalid.has(file))
        this.#logger.info({ file }, 'experiment file no longer invalid (fixed or removed)');
    }
    this.#invalid = invalid;
  }

  async #tick(): Promise<void> {
    if (this.#state !== 'running') return;
    const now = this.#clock.now();
    const due = [...this.#schedules.values()]
      .map((schedule) => ({ schedule, at: this.#nextFire(schedule) }))
      .filter(({ at }) => at <= now)
      .sort((a, b) => a.at.getTime() - b.at.getTime() || (a.schedule.name < b.schedule.name ? -1 : 1));
    try {
      for (const { schedule, at } of due) {
        if (this.#state !== 'running') return;
        try {
          await this.#fire(schedule, now);
        } catch (error) {
          // A bug must not stall every schedule, nor retry the same fire in a tight loop.
          this.#logger.error(
            { schedule: schedule.name, err: (error as Error).message, stack: (error as Error).stack },
            'scheduled fire failed',
          );
          schedule.record = { ...schedule.record, countFrom: at.toISOString() };
        }
      }
    } finally {
      this.#arm();
    }
  }

  /**
   * Handles the due fire of one schedule. On time (within the grace the missed-run policy gives,
   * and before the fire after it), it is decided as is. Later than that (the orchestrator was down,
   * or the machine slept), the missed-run policy decides: replay the latest fire, or skip.
   */
  async #fire(schedule: LoadedSchedule, now: Date): Promise<void> {
    const { plan } = schedule;
    const countFrom = new Date(schedule.record.countFrom);
    const fire = nextFireAfter(plan, countFrom);
    const following = nextFireAfter(plan, fire);
    const grace = Math.min(following.getTime() - fire.getTime(), MAX_MISSED_RUN_GRACE_MS);
    if (following > now && now.getTime() - fire.getTime() <= grace) {
      await this.#decide(schedule, fire);
      return;
    }
    const missed = planMissedRuns(plan, { lastFire: countFrom, now });
    if (missed.action === 'none') return;
    if (missed.action === 'skip') {
      this.#record(schedule, missed.countFrom, {
        outcome: 'skipped',
        reason: 'missed',
        detail: missed.detail,
        at: now.toISOString(),
      });
      return;
    }
    const earlier = missed.missed - 1;
    const note = `replayed the fire of ${missed.fire.toISOString()}, ${formatDuration(now.getTime() - missed.fire.getTime())} late${earlier === 0 ? '' : `; ${earlier} earlier ${earlier === 1 ? 'fire was' : 'fires were'} skipped as missed`}`;
    await this.#decide(schedule, missed.fire, note);
  }

  async #decide(schedule: LoadedSchedule, firedAt: Date, note?: string): Promise<void> {
    const { plan, experiment } = schedule;
    const at = (): string => this.#clock.now().toISOString();
    // Windows, blackouts and a busy group are known without asking the agents.
    const none: Candidate[] = [];
    let decision = decideRun(plan, {
      clock: this.#clock,
      busyGroups: this.#busyGroups(),
      candidates: none,
      firedAt,
    });
    if (!decision.run && decision.reason === 'no-targets') {
      const { target, faults } = experiment.spec;
      let candidates: Candidate[];
      try {
        candidates = await this.#options.backend.listTargets(
          target.driver,
          candidateSelector(target.selector, faults),
          this.#stopping.signal,
        );
      } catch (error) {
        if (this.#state !== 'running') return;
        this.#record(
          schedule,
          firedAt,
          isSimianError(error) && error.code === 'SIMIAN_NO_AGENTS'
            ? { outcome: 'skipped', reason: 'no-targets', detail: error.message, at: at() }
            : { outcome: 'error', detail: `cannot list targets: ${(error as Error).message}`, at: at() },
        );
        return;
      }
      // Shutting down while the agents answered: leave the fire to the missed-run policy.
      if (this.#state !== 'running') return;
      decision = decideRun(plan, { clock: this.#clock, busyGroups: this.#busyGroups(), candidates, firedAt });
    }
    if (!decision.run) {
      this.#record(schedule, firedAt, {
        outcome: 'skipped',
        reason: decision.reason,
        detail: decision.detail,
        at: at(),
      });
      return;
    }
    const request = {
      experiment: withSelector(experiment, scheduledSelector(plan, experiment.spec.target.selector)),
      file: schedule.file,
      schedule: schedule.name,
      targetGroup: plan.targetGroup,
      firedAt,
    };
    let started: StartedScheduledRun;
    try {
      started = await this.#options.backend.startRun(request);
    } catch (error) {
      this.#record(schedule, firedAt, {
        outcome: 'error',
        detail: `cannot start the run: ${(error as Error).message}`,
        at: at(),
      });
      return;
    }
    const startedAt = at();
    this.#activeRuns.set(started.runId, {
      schedule: schedule.name,
      targetGroup: plan.targetGroup,
      startedAt,
    });
    schedule.runningRunId = started.runId;
    schedule.record = { ...schedule.record, lastRun: { runId: started.runId, startedAt } };
    this.#record(schedule, firedAt, {
      outcome: 'ran',
      runId: started.runId,
      at: startedAt,
      ...(note === undefined ? {} : { note }),
    });
    const tracked: Promise<void> = started.done
      .then(
        (end) => this.#runEnded(schedule.name, started.runId, end),
        (error: unknown) =>
          this.#runEnded(schedule.name, started.runId, {
            verdict: 'error',
            reason: `the run failed: ${(error as Error).message}`,
          }),
      )
      .finally(() => {
        this.#completions.delete(tracked);
      });
    this.#completions.add(tracked);
  }

  #runEnded(name: string, runId: string, end: ScheduledRunEnd): void {
    this.#activeRuns.delete(runId);
    const endedAt = this.#clock.now().toISOString();
    const schedule = this.#schedules.get(name);
    const record = schedule?.record ?? this.#stateFile.get(name);
    if (schedule?.runningRunId === runId) schedule.runningRunId = undefined;
    this.#logger.info(
      { schedule: name, runId, verdict: end.verdict, reason: end.reason },
      'scheduled run ended',
    );
    if (record !== undefined && record.lastRun?.runId === runId) {
      const updated: ScheduleRecord = {
        ...record,
        lastRun: { ...record.lastRun, endedAt, verdict: end.verdict, reason: end.reason },
      };
      if (schedule !== undefined) schedule.record = updated;
      this.#stateFile.set(name, updated);
    }
    this.emit('run-ended', name, runId);
  }

  /** Keeps what a fire came to; the next fire is counted from `countFrom`. */
  #record(schedule: LoadedSchedule, countFrom: Date, result: ScheduleResult): void {
    schedule.record = {
      ...schedule.record,
      countFrom: countFrom.toISOString(),
      lastFire: countFrom.toISOString(),
      lastResult: result,
    };
    this.#stateFile.set(schedule.name, schedule.record);
    const fields = { schedule: schedule.name, fire: countFrom.toISOString(), ...result };
    if (result.outcome === 'error') this.#logger.warn(fields, 'scheduled fire failed');
    else if (result.outcome === 'skipped')
      this.#logger.info(fields, `scheduled fire skipped: ${result.reason}`);
    else this.#logger.info(fields, 'scheduled run started');
    this.emit('fired', schedule.name, result);
  }

  #busyGroups(): Set<string> {
    return new Set([...this.#activeRuns.values()].map((run) => run.targetGroup));
  }

  #nextFire(schedule: LoadedSchedule): Date {
    return nextFireAfter(schedule.plan, new Date(schedule.record.countFrom));
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!(this.#options.timers ?? true) || this.#state !== 'running') return;
    let earliest: number | undefined;
    for (const schedule of this.#schedules.values()) {
      const at = this.#nextFire(schedule).getTime();
      if (earliest === undefined || at < earliest) earliest = at;
    }
    if (earliest === undefined) return;
    const delay = Math.min(Math.max(earliest - this.#clock.now().getTime(), 0), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.tick().catch((error: unknown) =>
        this.#logger.error({ err: (error as Error).message, stack: (error as Error).stack }, 'tick failed'),
      );
    }, delay);
  }

  #describe(schedule: LoadedSchedule): ScheduleEntry {
    const { plan, record, experiment } = schedule;
    const countFrom = new Date(record.countFrom);
    const [next] = upcomingFires(plan, countFrom, 1);
    if (next === undefined) throw new Error('upcomingFires returned no fire');
    const spec = experiment.spec.schedule;
    const trigger: ScheduleEntry['trigger'] =
      plan.trigger.kind === 'cron'
        ? { kind: 'cron', cron: plan.trigger.expression }
        : {
            kind: 'random',
            meanTimeBetween: spec?.meanTimeBetween ?? formatDuration(plan.trigger.interval.meanMs),
            jitter: spec?.jitter ?? formatDuration(plan.trigger.interval.jitterMs),
          };
    let allowed: ScheduleEntry['nextAllowedFire'];
    if (next.skip !== undefined) {
      const found = nextAllowedFire(plan, countFrom);
      allowed = found === undefined ? null : describeFireTime(found, plan.timeZone);
    }
    return {
      name: schedule.name,
      file: schedule.file,
      trigger,
      timeZone: plan.timeZone,
      targetGroup: plan.targetGroup,
      optInLabel: `${plan.optIn.key}=${plan.optIn.value}`,
      nextFire: next.at,
      ...(next.skip === undefined ? {} : { nextFireSkip: next.skip, nextAllowedFire: allowed }),
      lastFire:
        record.lastFire === undefined ? null : describeFireTime(new Date(record.lastFire), plan.timeZone),
      lastResult: record.lastResult ?? null,
      lastRun: record.lastRun ?? null,
      runningRunId: schedule.runningRunId ?? null,
    };
  }
}

/** The experiment with another target selector. */
function withSelector(experiment: Experiment, selector: Selector): Experiment {
  return {
    ...experiment,
    spec: { ...experiment.spec, target: { ...experiment.spec.target, selector } },
  };
}

/**
 * False for YAML whose `kind` names something other than an Experiment (a GameDay, say): such files
 * share the directories and are not the scheduler's to report. Unreadable YAML counts as an
 * experiment, so its errors are reported.
 */
function declaresExperiment(source: string): boolean {
  try {
    const kind: unknown = parseDocument(source).get('kind');
    return typeof kind !== 'string' || kind === 'Experiment';
  } catch {
    return true;
  }
}

/** `file:line:col` of `metadata.name` in a valid experiment file. */
function nameLocation(file: string, source: string): string {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter });
  const { node } = locatePath(doc, ['metadata', 'name']);
  const { line, column } = positionAt(lineCounter, node?.range?.[0] ?? 0);
  return `${file}:${line}:${column}`;
}
