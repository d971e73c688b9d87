import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OrchestratorServer } from './orchestrator-server.js';

const TOKEN = 'api-test-token';

describe('HTTP API', () => {
  let server: OrchestratorServer;
  let url: string;
  const call = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
    fetch(new URL(path, url), {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
    });

  beforeEach(async () => {
    server = new OrchestratorServer({ port: 0, token: TOKEN, logger: pino({ level: 'silent' }) });
    url = (await server.listen()).url;
  });
  afterEach(() => server.close());

  it('answers /healthz without a token and refuses everything else without the right one', async () => {
    expect((await call('/healthz', {}, null)).status).toBe(200);
    const missing = await call('/v1/agents', {}, null);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      error: { code: 'SIMIAN_UNAUTHORIZED', message: 'missing or wrong token' },
    });
    expect((await call('/v1/agents', {}, 'wrong')).status).toBe(401);
    expect(await (await call('/v1/agents')).json()).toEqual({ agents: [] });
  });

  it('rejects an invalid experiment with file:line:column before anything runs', async () => {
    const response = await call('/v1/runs', {
      method: 'POST',
      body: JSON.stringify({
        source: 'apiVersion: simian.dev/v1alpha1\nkind: Experiment\nmetadata: { name: x }\nspec: 7\n',
        file: 'x.yaml',
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('SIMIAN_INVALID_EXPERIMENT');
    expect(body.error.message).toMatch(/^x\.yaml:4:7: spec: /);
  });

  it('rejects bad run requests and oversized bodies with a clear error', async () => {
    const notJson = await call('/v1/runs', { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({
      error: { code: 'SIMIAN_USAGE', message: 'request body is not JSON' },
    });
    const extra = await call('/v1/runs', {
      method: 'POST',
      body: JSON.stringify({ source: '', file: 'f', surprise: 1 }),
    });
    expect(extra.status).toBe(400);
    const big = await call('/v1/runs', {
      method: 'POST',
      body: JSON.stringify({ source: 'x'.repeat(3 * 1024 * 1024), file: 'f' }),
    });
    expect(big.status).toBe(400);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe('SIMIAN_MESSAGE_TOO_LARGE');
  });

  it('streams an error journal when no agent offers the driver', async () => {
    const source = `apiVersion: simian.dev/v1alpha1
kind: Experiment
metadata: { name: lonely }
spec:
  target: { driver: docker, selector: { labels: { app: web } } }
  faults: [{ type: kill }]
  steadyState:
    probes: [{ name: up, command: { run: 'true' } }]
`;
    const response = await call('/v1/runs', {
      method: 'POST',
      body: JSON.stringify({ source, file: 'lonely.yaml' }),
    });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const events = (await response.text())
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            type: string;
            journal?: { verdict: string; reason: string; error?: { code: string } };
          },
      );
    const journal = events.find((event) => event.type === 'journal')?.journal;
    expect(journal?.verdict).toBe('error');
    expect(journal?.error?.code).toBe('SIMIAN_NO_AGENTS');
    expect(journal?.reason).toBe('no connected agent offers the docker driver');
  });
});
