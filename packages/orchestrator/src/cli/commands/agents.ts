import type { AgentInfo } from '../../hub/hub.js';
import { exitCodes } from '../exit-codes.js';
import { callApi } from '../run-client.js';
import { requireToken } from '../token.js';
import type { CommandResult } from './command-result.js';

/** `simian agents`: who is connected, where, and what each can do. */
export async function agentsCommand(
  orchestrator: URL,
  tokenFile: string | undefined,
): Promise<CommandResult> {
  const token = await requireToken(tokenFile, 'simian agents');
  const response = await callApi(orchestrator, token, '/v1/agents');
  const { agents } = (await response.json()) as { agents: AgentInfo[] };
  const lines = agents.map(
    (agent) =>
      `${agent.name}  zone=${agent.zone ?? '-'}  drivers=${agent.capabilities.join(',')}  since ${agent.connectedAt}`,
  );
  return {
    exitCode: exitCodes.passed,
    human: agents.length === 0 ? 'no agents connected' : lines.join('\n'),
    json: { agents },
  };
}
