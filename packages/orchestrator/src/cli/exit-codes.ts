import type { ErrorCode } from '@simian/protocol';

/** Documented in docs/cli.md; a test keeps the two in sync. */
export const exitCodes = {
  passed: 0,
  failed: 1,
  aborted: 2,
  error: 3,
  invalid: 4,
  belowMinScore: 5,
} as const;

const INVALID_INPUT: ReadonlySet<string> = new Set<ErrorCode>([
  'SIMIAN_USAGE',
  'SIMIAN_FILE_NOT_FOUND',
  'SIMIAN_INVALID_EXPERIMENT',
  'SIMIAN_NO_TOKEN',
  'SIMIAN_INVALID_GAMEDAY',
  'SIMIAN_APPROVAL_REQUIRED',
  'SIMIAN_RUN_NOT_FOUND',
]);

export function exitCodeForError(code: string): number {
  if (code === 'SIMIAN_RUN_CANCELLED') return exitCodes.aborted;
  return INVALID_INPUT.has(code) ? exitCodes.invalid : exitCodes.error;
}
