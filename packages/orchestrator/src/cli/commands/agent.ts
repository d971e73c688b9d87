import { hostname } from 'node:os';
import { join } from 'node:path';
import { Agent } from '@simian/agent';
import { capabilitySchema } from '@simian/protocol';
import type { Logger } from 'pino';
import { z } from 'zod';
import { exitCodes } from '../exit-codes.js';
import { stateDir } from '../state-dir.js';
import { requireToken } from '../token.js';
import type { CommandResult } from './command-result.js';

export const agentFlagsSchema = z.strictObject({
  orchestrator: z.instanceof(URL),
  name: z.string().optional(),
  zone: z.string().optional(),
  region: z.string().optional(),
  label: z.record(z.string(), z.string()),
  driver: z.array(capabilitySchema).optional(),
  ledger: z.string().optional(),
  tokenFile: z.string().optional(),
});
export type AgentFlags = z.infer<typeof agentFlagsSchema>;

/** `simian agent`: dials the orchestrator and serves it until SIGINT/SIGTERM, then reverts everything. */
export async function agentCommand(
  flags: AgentFlags,
  logger: Logger,
  signal: AbortSignal,
  print: (line: string) => void,
): Promise<CommandResult> {
  const token = await requireToken(flags.tokenFile, 'simian agent');
  const name = flags.name ?? hostname();
  const agent = new Agent({
    orchestratorUrl: agentUrl(flags.orchestrator),
    token,
    identity: { name, labels: flags.label, zone: flags.zone, region: flags.region },
    ledgerPath: flags.ledger ?? join(stateDir(), `agent-${name}.ledger.json`),
    logger: logger.child({ agent: name }),
    capabilities: flags.driver,
  });
  await agent.start();
  print(`simian agent ${name} started; dialing ${agentUrl(flags.orchestrator)}`);
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  logger.info('stopping: reverting every fault this agent holds');
  await agent.stop();
  return { exitCode: exitCodes.passed };
}

/** http://host:port or ws://host:port → ws://host:port/v1/agents */
export function agentUrl(url: URL): string {
  const ws = new URL(url.href);
  if (ws.protocol === 'http:') ws.protocol = 'ws:';
  if (ws.protocol === 'https:') ws.protocol = 'wss:';
  if (ws.pathname === '/' || ws.pathname === '') ws.pathname = '/v1/agents';
  return ws.href;
}
