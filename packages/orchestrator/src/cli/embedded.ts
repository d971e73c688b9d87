import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Agent } from '@simian/agent';
import type { Logger } from 'pino';
import { openRunHistory } from '../history/sqlite-run-history.js';
import { OrchestratorServer } from '../server/orchestrator-server.js';
import { ownLedgerName, recoverOrphanLedgers } from './orphan-ledgers.js';
import { stateDir } from './state-dir.js';

export interface Embedded {
  url: URL;
  token: string;
  close(): Promise<void>;
}

/**
 * `simian run` without --orchestrator: an orchestrator and one local agent in this process,
 * talking over a real WebSocket on 127.0.0.1, so the path is the one a remote run takes.
 */
export async function startEmbedded(logger: Logger, leaseMs: number): Promise<Embedded> {
  const token = randomBytes(24).toString('base64url');
  const ledgerDir = join(stateDir(), 'embedded');
  // A previous `simian run` that was killed may have left faults applied: revert them first.
  await recoverOrphanLedgers(ledgerDir, logger);
  // Recorded in the local history like a served run; a history that cannot be opened costs the
  // record, not the run.
  const history = await openRunHistory().catch((error: unknown) => {
    logger.warn({ err: (error as Error).message }, 'run history unavailable: this run is not recorded');
    return undefined;
  });
  const server = new OrchestratorServer({
    host: '127.0.0.1',
    port: 0,
    token,
    logger,
    leaseMs,
    ...(history === undefined ? {} : { history, historySource: 'embedded' as const }),
  });
  const { url, agentUrl } = await server.listen();
  const ledgerPath = join(ledgerDir, await ownLedgerName());
  const agent = new Agent({
    orchestratorUrl: agentUrl,
    token,
    identity: { name: `local-${hostname()}`, labels: {} },
    ledgerPath,
    logger: logger.child({ component: 'agent' }),
  });
  try {
    await agent.start();
    await agent.waitConnected(10_000);
  } catch (error) {
    await agent.stop();
    await server.close();
    await history?.close();
    throw error;
  }
  return {
    url: new URL(url),
    token,
    async close() {
      // Agent first: it reverts whatever it still holds and hangs up before the hub goes away.
      await agent.stop();
      await server.close();
      await history?.close();
      // Only an empty ledger goes: one that still lists faults is recovered by the next `simian run`.
      if (agent.heldFaults() === 0) await rm(ledgerPath, { force: true });
    },
  };
}
