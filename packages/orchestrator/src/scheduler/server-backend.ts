import { join } from 'node:path';
import { type Capability, type DriverName, type Selector, SimianError } from '@simian/protocol';
import type { Logger } from 'pino';
import type { AgentSession } from '../hub/agent-session.js';
import type { Hub } from '../hub/hub.js';
import { writeJournal } from '../runner/journal.js';
import type { LaunchOutcome, OrchestratorServer } from '../server/orchestrator-server.js';
import type { Candidate } from './decide.js';
import type {
  ScheduledRunEnd,
  ScheduledRunRequest,
  SchedulerBackend,
  StartedScheduledRun,
} from './scheduler-service.js';

export interface ServerSchedulerBackendOptions {
  server: OrchestratorServer;
  logger: Logger;
  /** Where the journal of each scheduled run is written, as `<run-id>.json`. */
  journalDir: string;
  /**
   * For this long after start, a fire waits for an agent offering its driver instead of being
   * skipped as no-targets: after a restart, agents are still redialing. @default 15000
   */
  agentGraceMs?: number;
}

/**
 * The scheduler's way into `simian serve`: targets come from the agents through the hub (the
 * runner's `list-targets`), and runs start through `OrchestratorServer.launchRun`, the code path of
 * `POST /v1/runs`, recorded in the history with source `schedule`. As no client is there to keep
 * the journal, it is written to the journal directory too.
 */
export class ServerSchedulerBackend implements SchedulerBackend {
  readonly #startedAt = Date.now();

  constructor(private readonly options: ServerSchedulerBackendOptions) {}

  async listTargets(driver: DriverName, selector: Selector, signal: AbortSignal): Promise<Candidate[]> {
    const hub = this.options.server.hub;
    let sessions = hub.sessionsWith(driver);
    const grace = this.#startedAt + (this.options.agentGraceMs ?? 15_000) - Date.now();
    if (sessions.length === 0 && grace > 0) sessions = await waitForDriver(hub, driver, grace, signal);
    if (sessions.length === 0) {
      throw new SimianError('SIMIAN_NO_AGENTS', `no connected agent offers the ${driver} driver`);
    }
    const answers = await Promise.all(
      sessions.map((session) => session.request({ type: 'list-targets', driver, selector })),
    );
    return answers.flatMap((answer) => answer.targets);
  }

  async startRun(request: ScheduledRunRequest): Promise<StartedScheduledRun> {
    const launched = await this.options.server.launchRun({
      experiment: request.experiment,
      file: request.file,
      source: 'schedule',
    });
    return { runId: launched.runId, done: launched.done.then((outcome) => this.#ended(outcome)) };
  }

  async #ended(outcome: LaunchOutcome): Promise<ScheduledRunEnd> {
    if (outcome.kind === 'failure') return { verdict: 'error', reason: outcome.error.message };
    if (outcome.kind === 'plan') throw new Error('a scheduled run is never a dry run');
    const { journal } = outcome;
    const path = join(this.options.journalDir, `${journal.runId}.json`);
    try {
      await writeJournal(path, journal);
      this.options.logger.info({ runId: journal.runId, journal: path }, 'journal written');
    } catch (error) {
      // The history keeps the journal too; a full disk costs this copy, not the run's outcome.
      this.options.logger.error(
        { runId: journal.runId, journal: path, err: (error as Error).message },
        'cannot write the journal of a scheduled run',
      );
    }
    return { verdict: journal.verdict, reason: journal.reason };
  }
}

/** The sessions offering `driver` once one connects, or whatever there is after `timeoutMs` or on abort. */
function waitForDriver(
  hub: Hub,
  driver: Capability,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<AgentSession[]> {
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      hub.off('connected', onConnected);
      signal.removeEventListener('abort', finish);
      resolve(hub.sessionsWith(driver));
    };
    const onConnected = (session: AgentSession): void => {
      if (session.capabilities.includes(driver)) finish();
    };
    const timer = setTimeout(finish, signal.aborted ? 0 : timeoutMs);
    hub.on('connected', onConnected);
    signal.addEventListener('abort', finish, { once: true });
  });
}
