import { readFileSync } from 'node:fs';
import { errorCodes } from '@simian/protocol';
import { describe, expect, it } from 'vitest';
import { exitCodeForError, exitCodes } from './exit-codes.js';

const docs = (name: string) => readFileSync(new URL(`../../../../docs/${name}`, import.meta.url), 'utf8');

describe('exit codes', () => {
  it('are the ones docs/cli.md documents', () => {
    const rows = [...docs('cli.md').matchAll(/^\| (\d) \| (\w+) \|/gm)].map((match) => [
      match[2],
      Number(match[1]),
    ]);
    expect(Object.fromEntries(rows)).toEqual(exitCodes);
  });

  it('are distinct', () => {
    expect(new Set(Object.values(exitCodes)).size).toBe(Object.keys(exitCodes).length);
  });

  it('match the exit column of docs/errors.md for every error code', () => {
    const rows = new Map(
      [...docs('errors.md').matchAll(/^\| `(SIMIAN_[A-Z_]+)` \| (\d) \|/gm)].map((m) => [m[1], Number(m[2])]),
    );
    for (const code of Object.keys(errorCodes)) expect(rows.get(code), code).toBe(exitCodeForError(code));
  });
});
