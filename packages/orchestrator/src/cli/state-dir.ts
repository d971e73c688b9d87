import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where journals and ledgers live: SIMIAN_STATE_DIR, else ~/.simian. */
export function stateDir(): string {
  return process.env.SIMIAN_STATE_DIR ?? join(homedir(), '.simian');
}
