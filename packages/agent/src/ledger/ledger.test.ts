import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSimianError } from '@simian/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger, type LedgerEntry } from './ledger.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simian-ledger-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(faultId: string): LedgerEntry {
  return {
    faultId,
    runId: 'run-1',
    target: {
      driver: 'process',
      id: '123:456',
      name: 'sleep[123]',
      labels: { app: 'web' },
      agent: 'agent-1',
    },
    fault: { type: 'pause' },
    leaseExpiresAt: 2_000,
    recordedAt: 1_000,
  };
}

async function openError(path: string): Promise<{ code: string; message: string }> {
  try {
    await Ledger.open(path);
  } catch (error) {
    if (isSimianError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected Ledger.open to fail');
}

describe('Ledger', () => {
  it('creates the file and its directories, and keeps entries across reopen', async () => {
    const path = join(dir, 'nested', 'deeper', 'ledger.json');
    const ledger = await Ledger.open(path);
    expect(ledger.entries()).toEqual([]);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ version: 1, entries: [] });

    await ledger.record(entry('f1'));
    await ledger.record(entry('f2'));
    await ledger.remove('f1');
    await ledger.remove('unknown');
    expect(ledger.entries().map((e) => e.faultId)).toEqual(['f2']);

    const reopened = await Ledger.open(path);
    expect(reopened.entries()).toEqual([entry('f2')]);
    // Only the ledger is left behind: temporary files are renamed over it.
    expect(await readdir(join(dir, 'nested', 'deeper'))).toEqual(['ledger.json']);
  });

  it('loses nothing when many writes race', async () => {
    const path = join(dir, 'ledger.json');
    const ledger = await Ledger.open(path);
    const ids = Array.from({ length: 40 }, (_, i) => `f${i}`);
    await Promise.all(ids.map((id) => ledger.record(entry(id))));
    await Promise.all(ids.filter((_, i) => i % 2 === 0).map((id) => ledger.remove(id)));
    const odd = ids.filter((_, i) => i % 2 === 1);
    expect(ledger.entries().map((e) => e.faultId)).toEqual(odd);
    expect((await Ledger.open(path)).entries().map((e) => e.faultId)).toEqual(odd);
  });

  it('refuses a ledger that is not JSON, naming the file', async () => {
    const path = join(dir, 'ledger.json');
    await writeFile(path, '{"version":1,"entries":[');
    const error = await openError(path);
    expect(error.code).toBe('SIMIAN_LEDGER_CORRUPT');
    expect(error.message).toContain(path);
    expect(error.message).toContain('is not JSON');
  });

  it('refuses a ledger that does not match the schema, naming the file and the field', async () => {
    const path = join(dir, 'ledger.json');
    const bad = { ...entry('f1'), fault: { type: 'explode' } };
    await writeFile(path, JSON.stringify({ version: 1, entries: [bad] }));
    const error = await openError(path);
    expect(error.code).toBe('SIMIAN_LEDGER_CORRUPT');
    expect(error.message).toContain(`the fault ledger ${path} does not match its schema: entries.0.fault`);

    await writeFile(path, '');
    expect((await openError(path)).code).toBe('SIMIAN_LEDGER_CORRUPT');
    await writeFile(path, JSON.stringify({ version: 1, entries: [entry('f1'), entry('f1')] }));
    expect((await openError(path)).message).toContain('a faultId appears twice');
  });

  it('refuses a ledger path it cannot read', async () => {
    const error = await openError(dir);
    expect(error.code).toBe('SIMIAN_LEDGER_CORRUPT');
    expect(error.message).toContain(dir);
  });

  it('keeps its state when a write fails, and works again once the disk does', async () => {
    const path = join(dir, 'ledger.json');
    const ledger = await Ledger.open(path);
    await ledger.record(entry('f1'));
    // The tests run as root, which ignores permissions: a missing directory makes the write fail.
    await rm(dir, { recursive: true });
    await expect(ledger.record(entry('f2'))).rejects.toThrow(`cannot write the fault ledger ${path}`);
    expect(ledger.entries().map((e) => e.faultId)).toEqual(['f1']);
    await mkdir(dir, { recursive: true });
    await ledger.record(entry('f3'));
    expect((await Ledger.open(path)).entries().map((e) => e.faultId)).toEqual(['f1', 'f3']);
  });
});
