import type { Logger } from 'pino';
import { z } from 'zod';
import { OrchestratorServer } from '../../server/orchestrator-server.js';
import { exitCodes } from '../exit-codes.js';
import { requireToken } from '../token.js';
import type { CommandResult } from './command-result.js';

export const serveFlagsSchema = z.strictObject({
  listen: z.strictObject({ host: z.string(), port: z.number() }),
  tokenFile: z.string().optional(),
  lease: z.number(),
  heartbeat: z.number(),
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
  const server = new OrchestratorServer({
    host: flags.listen.host,
    port: flags.listen.port,
    token,
    logger,
    leaseMs: flags.lease,
    heartbeatMs: flags.heartbeat,
  });
  const { url, agentUrl } = await server.listen();
  logger.info({ url, agentUrl }, 'orchestrator listening');
  print(`simian orchestrator listening on ${url} (agents: ${agentUrl})`);
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  logger.info('shutting down: aborting runs and reverting their faults');
  await server.close();
  return { exitCode: exitCodes.passed };
}
