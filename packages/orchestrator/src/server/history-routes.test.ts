import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { makeJournal } from '../../../../test/helpers/journal-fixture.js';
import { openRunHistory, type SqliteRunHistory } from '../history/sqlite-run-history.js';
import { OrchestratorServer } from './orchestrator-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function served(): Promise<{ url: string; history: SqliteRunHistory }> {
  const dir = await mkdtemp(join(tmpdir(), 'simian-history-api-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const history = await openRunHistory({ path: join(dir, 'history.sqlite') });
  cleanups.push(() => history.close());
  const server = new OrchestratorServer({
    port: 0,
    token: 't0ken',
    logger: pino({ level: 'silent' }),
    history,
  });
  const { url } = await server.listen();
  cleanups.push(() => server.close());
  return { url, history };
}

async function get(url: string, token = 't0ken'): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

describe('GET /v1/runs and /v1/runs/<run-id>', () => {
  it('lists runs with the query filters and answers one run with its journal', async () => {
    const { url, history } = await served();
    const journal = makeJournal({ runId: 'r-2' });
    await history.start({ runId: 'r-1', experiment: 'pause', source: 'schedule', startedAt: 1_000 });
    await history.start({
      runId: 'r-2',
      experiment: 'latency-web',
      source: 'gameday',
      startedAt: journal.startedAt,
    });
    await history.finish('r-2', { journal });

    const all = await get(`${url}/v1/runs`);
    expect(all.status).toBe(200);
    expect((all.body as { runs: Array<{ runId: string }> }).runs.map((run) => run.runId)).toEqual([
      'r-2',
      'r-1',
    ]);
    const filtered = await get(`${url}/v1/runs?experiment=pause&verdict=running&until=2026-01-01&limit=5`);
    expect(filtered.body).toEqual({
      runs: [
        {
          runId: 'r-1',
          experiment: 'pause',
          source: 'schedule',
          verdict: 'running',
          reason: '',
          startedAt: 1_000,
        },
      ],
    });
    const since = await get(`${url}/v1/runs?since=${journal.startedAt}`);
    expect((since.body as { runs: Array<{ runId: string }> }).runs.map((run) => run.runId)).toEqual(['r-2']);

    const one = await get(`${url}/v1/runs/r-2`);
    expect(one.status).toBe(200);
    expect((one.body as { run: { journal: unknown; verdict: string } }).run).toMatchObject({
      verdict: 'passed',
      source: 'gameday',
      journal,
    });
  });

  it('answers bad queries with 400 naming the parameter, unknown runs with 404, and needs the token', async () => {
    const { url } = await served();
    expect(await get(`${url}/v1/runs?since=yesterday`)).toEqual({
      status: 400,
      body: {
        error: {
          code: 'SIMIAN_USAGE',
          message:
            'bad query parameter since: expected a date (2026-11-22), a UTC date and time (2026-11-22T10:00) or a time ago (90m, 24h, 7d), got "yesterday"',
        },
      },
    });
    expect((await get(`${url}/v1/runs?verdict=maybe`)).status).toBe(400);
    expect((await get(`${url}/v1/runs?limit=0`)).status).toBe(400);
    expect(await get(`${url}/v1/runs?colour=red`)).toMatchObject({
      status: 400,
      body: {
        error: { code: 'SIMIAN_USAGE', message: expect.stringContaining('bad query parameter colour') },
      },
    });
    expect(await get(`${url}/v1/runs/nope`)).toEqual({
      status: 404,
      body: { error: { code: 'SIMIAN_RUN_NOT_FOUND', message: 'no run nope in the history' } },
    });
    expect((await get(`${url}/v1/runs`, 'wrong')).status).toBe(401);
  });

  it('says so when the orchestrator keeps no history', async () => {
    const server = new OrchestratorServer({ port: 0, token: 't0ken', logger: pino({ level: 'silent' }) });
    const { url } = await server.listen();
    cleanups.push(() => server.close());
    expect(await get(`${url}/v1/runs`)).toEqual({
      status: 503,
      body: {
        error: { code: 'SIMIAN_HISTORY_UNAVAILABLE', message: 'this orchestrator keeps no run history' },
      },
    });
  });
});
