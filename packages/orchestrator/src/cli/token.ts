import { readFile } from 'node:fs/promises';
import { SimianError } from '@simian/protocol';

/** The shared token comes from --token-file or SIMIAN_TOKEN, never from a flag's value. */
export async function readToken(tokenFile: string | undefined): Promise<string | undefined> {
  if (tokenFile !== undefined) {
    let text: string;
    try {
      text = await readFile(tokenFile, 'utf8');
    } catch (error) {
      throw new SimianError(
        'SIMIAN_FILE_NOT_FOUND',
        `cannot read token file ${tokenFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    const token = text.trim();
    if (token === '') throw new SimianError('SIMIAN_NO_TOKEN', `token file ${tokenFile} is empty`);
    return token;
  }
  const fromEnv = process.env.SIMIAN_TOKEN?.trim();
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

export async function requireToken(tokenFile: string | undefined, who: string): Promise<string> {
  const token = await readToken(tokenFile);
  if (token === undefined) {
    throw new SimianError('SIMIAN_NO_TOKEN', `${who} needs the shared token`, {
      hint: 'set SIMIAN_TOKEN or pass --token-file FILE (the same token on orchestrator, agents and clients)',
    });
  }
  return token;
}
