import { formatIssue, validateFiles } from '../../experiments/load.js';
import { exitCodes } from '../exit-codes.js';
import type { CommandResult } from './command-result.js';

export async function validateCommand(paths: string[]): Promise<CommandResult> {
  const results = await validateFiles(paths);
  const invalid = results.filter((result) => !result.ok);
  const lines = results.flatMap((result) =>
    result.ok
      ? [`ok  ${result.file}${result.name ? ` (${result.name})` : ''}`]
      : result.issues.map(formatIssue),
  );
  lines.push(
    invalid.length === 0
      ? `${results.length} file(s) valid`
      : `${invalid.length} of ${results.length} file(s) invalid`,
  );
  return {
    exitCode: invalid.length === 0 ? exitCodes.passed : exitCodes.invalid,
    human: lines.join('\n'),
    json: { files: results },
  };
}
