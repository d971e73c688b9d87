import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCodes, SimianError, toWireError } from './errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map(
  [...doc.matchAll(/^\| `(SIMIAN_[A-Z_]+)` \| \d \| ([^|]+) \|/gm)].map((match) => [
    match[1],
    match[2]?.trim(),
  ]),
);

describe('error codes', () => {
  it('are documented in docs/errors.md, each with the same meaning, and nothing else is', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(errorCodes).sort());
    for (const [code, meaning] of Object.entries(errorCodes))
      expect(documented.get(code), code).toBe(meaning);
  });

  it('cross the wire as code and message only', () => {
    const error = new SimianError('SIMIAN_NO_TARGETS', 'selector {app=web} matched nothing', {
      hint: 'check labels',
    });
    expect(toWireError(error)).toEqual({
      code: 'SIMIAN_NO_TARGETS',
      message: 'selector {app=web} matched nothing',
    });
    expect(toWireError(new Error('boom'))).toEqual({ code: 'SIMIAN_INTERNAL', message: 'boom' });
  });
});
