import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { openRunHistory } from '../../history/sqlite-run-history.js';
import { SCHEDULER_STATE_FILE } from '../../scheduler/schedule-state-file.js';
import { SchedulerService } from '../../scheduler/scheduler-service.js';
import { ServerSchedulerBackend } from '../../scheduler/server-backend.js';
import { OrchestratorServer } from '../../server/orchestrator-server.js';
import { exitCodes } from '../exit-codes.js';
import { stateDir } from '../state-dir.js';
import { requireToken } from '../token.js';
import type { CommandResult } from './command-result.js';

export const serveFlagsSchema = z.strictObject({
  listen: z.strictObject({ host: z.string(), port: z.number() }),
  tokenFile: z.string().optional(),
  lease: z.number(),
  heartbeat: z.number(),
  /** Directories of experiment files whose `spec.schedule` the scheduler runs. */
  experiments: z.array(z.string()).default([]),
});
export type ServeFlags = z.infer<typeof serveFlagsSchema>;

/** `simian serve`: runs until SIGINT/SIGTERM, then aborts runs (reverting their faults) and exits. */
export async function serveCommand(
  flags: ServeFlags,
  logger: Logger,
  signal: AbortSignal,
  print: (line: string) => void,
): Promise<CommandResult> {
  const token = await requireToken(flags.tokenFile, 'simian serve');
  // Opening marks runs a previous (killed) serve left `running` as aborted.
  const history = await openRunHistory();
  logger.info({ history: history.path }, 'run history opened');
  const server = new OrchestratorServer({
    host: flags.listen.host,
    port: flags.listen.port,
    token,
    logger,
    leaseMs: flags.lease,
    heartbeatMs: flags.heartbeat,
    history,
  });
  const { url, agentUrl } = await server.listen().catch(async (error: unknown) => {
    await history.close();
    throw error;
  });
  logger.info({ url, agentUrl }, 'orchestrator listening');
  print(`simian orchestrator listening on ${url} (agents: ${agentUrl})`);
  const scheduler = await startScheduler(flags.experiments, server, logger, signal, print).catch(
    async (error: unknown) => {
      await server.close();
      await history.close();
      throw error;
    },
  );
  if (!signal.aborted) {
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
  logger.info('shutting down: aborting runs and reverting their faults');
  // No new fires first; the server then aborts the runs in progress, scheduled ones included.
  await scheduler?.stop();
  await server.close();
  await scheduler?.flush();
  await history.close();
  return { exitCode: exitCodes.passed };
}

/** The scheduler of `--experiments DIR`: fires their `spec.schedule`, serves `GET /v1/schedules`. */
async function startScheduler(
  dirs: readonly string[],
  server: OrchestratorServer,
  logger: Logger,
  signal: AbortSignal,
  print: (line: string) => void,
): Promise<SchedulerService | undefined> {
  if (dirs.length === 0) return undefined;
  const scheduler = new SchedulerService({
    dirs,
    backend: new ServerSchedulerBackend({ server, logger, journalDir: join(stateDir(), 'runs') }),
    stateFile: join(stateDir(), SCHEDULER_STATE_FILE),
    logger,
  });
  server.setScheduleLister(scheduler);
  await scheduler.start(signal);
  const { schedules, invalid } = scheduler.list();
  logger.info(
    { directories: dirs, schedules: schedules.length, invalid: invalid.length },
    'scheduler started',
  );
  const problems = invalid.length === 0 ? '' : `; ${invalid.length} invalid file(s), see \`simian schedule\``;
  print(`scheduling ${schedules.length} experiment(s) from ${dirs.join(', ')}${problems}`);
  return scheduler;
}
