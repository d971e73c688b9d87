import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { SimianError } from '@simian/protocol';
import type { Journal } from '../runner/journal.js';
import { type Plan, type RunEvent, runEventSchema } from '../runner/run-events.js';
import type { RunRequest } from '../server/orchestrator-server.js';

export type RunOutcome = { kind: 'journal'; journal: Journal } | { kind: 'plan'; plan: Plan };

/**
 * Posts a run to an orchestrator and follows its NDJSON event stream. Aborting the signal
 * closes the stream, which halts the run on the orchestrator (faults reverted at once).
 */
export async function requestRun(
  baseUrl: URL,
  token: string,
  body: RunRequest,
  onEvent: (event: RunEvent) => void,
  signal?: AbortSignal,
): Promise<RunOutcome> {
  // Ctrl-C asks the orchestrator to halt the run and keeps reading, so the journal of the
  // aborted run still arrives; the stream itself is cut only if the halt cannot be delivered.
  const stream = new AbortController();
  let runId: string | undefined;
  const halt = (): void => {
    if (runId === undefined) {
      stream.abort();
      return;
    }
    callApi(baseUrl, token, `/v1/runs/${encodeURIComponent(runId)}/halt`, { method: 'POST' }).catch(() =>
      stream.abort(),
    );
  };
  signal?.addEventListener('abort', halt, { once: true });
  try {
    return await followRun(baseUrl, token, body, onEvent, stream.signal, (id) => {
      runId = id;
      if (signal?.aborted) halt();
    });
  } catch (error) {
    if (stream.signal.aborted && !(error instanceof SimianError)) {
      throw new SimianError(
        'SIMIAN_RUN_CANCELLED',
        'run halted by the operator before the orchestrator sent its journal',
      );
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', halt);
  }
}

async function followRun(
  baseUrl: URL,
  token: string,
  body: RunRequest,
  onEvent: (event: RunEvent) => void,
  signal: AbortSignal,
  onStarted: (runId: string) => void,
): Promise<RunOutcome> {
  const response = await callApi(baseUrl, token, '/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.body) throw new SimianError('SIMIAN_ORCHESTRATOR_UNREACHABLE', 'orchestrator sent no body');
  const lines = createInterface({
    input: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
  });
  let outcome: RunOutcome | undefined;
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const parsed = runEventSchema.safeParse(JSON.parse(line));
      if (!parsed.success)
        throw new SimianError(
          'SIMIAN_BAD_MESSAGE',
          `orchestrator sent an event that does not match the schema: ${parsed.error.issues[0]?.message}`,
        );
      const event = parsed.data;
      if (event.type === 'started') onStarted(event.runId);
      if (event.type === 'failure') {
        throw new SimianError(
          event.error.code as 'SIMIAN_NO_TARGETS',
          event.error.message,
          event.error.hint === undefined ? {} : { hint: event.error.hint },
        );
      }
      if (event.type === 'journal') outcome = { kind: 'journal', journal: event.journal };
      else if (event.type === 'plan' && body.dryRun) outcome = { kind: 'plan', plan: event.plan };
      else onEvent(event);
    }
  } catch (error) {
    if (error instanceof SimianError || signal.aborted) throw error;
    throw new SimianError(
      'SIMIAN_ORCHESTRATOR_UNREACHABLE',
      `lost the orchestrator during the run: ${causeOf(error)}`,
      {
        hint: 'agents revert its faults when their lease runs out',
      },
    );
  }
  if (!outcome)
    throw new SimianError(
      'SIMIAN_ORCHESTRATOR_UNREACHABLE',
      'the orchestrator closed the run stream before the run ended',
    );
  return outcome;
}

export async function callApi(
  baseUrl: URL,
  token: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const url = new URL(path, httpBase(baseUrl));
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new SimianError(
      'SIMIAN_ORCHESTRATOR_UNREACHABLE',
      `cannot reach the orchestrator at ${url.origin}: ${causeOf(error)}`,
      {
        hint: 'is `simian serve` running there? check --orchestrator',
      },
    );
  }
  if (response.ok) return response;
  const text = await response.text();
  let error: { code?: string; message?: string } = {};
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
  } catch {
    // not JSON: keep the status line below
  }
  const code = (error.code ??
    (response.status === 401 ? 'SIMIAN_UNAUTHORIZED' : 'SIMIAN_ORCHESTRATOR_UNREACHABLE')) as 'SIMIAN_USAGE';
  throw new SimianError(
    code,
    error.message ?? `orchestrator answered ${response.status} ${response.statusText}`,
    {
      ...(response.status === 401
        ? { hint: 'use the same SIMIAN_TOKEN / --token-file as `simian serve`' }
        : {}),
    },
  );
}

/** ws://host:port/... → http://host:port */
export function httpBase(url: URL): URL {
  const base = new URL(url.href);
  if (base.protocol === 'ws:') base.protocol = 'http:';
  if (base.protocol === 'wss:') base.protocol = 'https:';
  base.pathname = '/';
  return base;
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
