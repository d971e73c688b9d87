import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSimianError, MAX_FRAME_BYTES, SimianError } from '@simian/protocol';
import type { Logger } from 'pino';
import { z } from 'zod';
import { formatIssue, parseExperimentSource } from '../experiments/load.js';
import type { Experiment } from '../experiments/schema.js';
import { type RunEnd, type RunHistory, type RunSource, runSourceSchema } from '../history/run-history.js';
import { hasValidToken } from '../hub/auth.js';
import { AGENT_PATH, Hub } from '../hub/hub.js';
import { type Journal, newRunId } from '../runner/journal.js';
import type { Plan, RunEvent } from '../runner/run-events.js';
import { planExperiment, runExperiment } from '../runner/run-experiment.js';
import { emptyScheduleListing, type ScheduleListing } from '../scheduler/schedule-listing.js';
import { RunRecorder, routeHistory } from './history-routes.js';

export interface OrchestratorServerOptions {
  /** @default 127.0.0.1 */
  host?: string;
  /** 0 picks a free port. @default 7340 */
  port?: number;
  token: string;
  logger: Logger;
  /** @default 5000 */
  heartbeatMs?: number;
  /** Lease given to agents for every fault. @default 30000 */
  leaseMs?: number;
  /** Where runs are recorded and `GET /v1/runs` reads; without it runs are not kept. */
  history?: RunHistory;
  /** The source recorded for runs posted to `/v1/runs` that name none. @default api */
  historySource?: RunSource;
}

/** What `simian run --orchestrator` posts: the file's text, so the server validates it too. */
export const runRequestSchema = z.strictObject({
  source: z.string().max(MAX_FRAME_BYTES),
  file: z.string().max(4096),
  dryRun: z.boolean().default(false),
  seed: z
    .int()
    .min(0)
    .max(2 ** 31)
    .optional(),
  leaseMs: z
    .int()
    .min(1_000)
    .max(24 * 3_600_000)
    .optional(),
  /** What started the run, recorded as its source in the history (e.g. `gameday`). */
  origin: runSourceSchema.optional(),
});
export type RunRequest = z.input<typeof runRequestSchema>;

/** `simian serve`: the agents' WebSocket hub plus the HTTP API clients use. */
export class OrchestratorServer {
  readonly hub: Hub;
  private readonly server: Server;
  private readonly runs = new Map<string, AbortController>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly recorder: RunRecorder;
  private schedules: ScheduleLister | undefined;

  constructor(private readonly options: OrchestratorServerOptions) {
    this.recorder = new RunRecorder(options.history, options.logger);
    this.hub = new Hub({
      token: options.token,
      logger: options.logger,
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    });
    this.server = createServer((request, response) => {
      this.route(request, response).catch((error: unknown) => {
        if (response.headersSent) {
          response.end();
        } else if (isSimianError(error)) {
          sendJson(response, 400, { error: error.toWire() });
        } else {
          options.logger.error({ err: (error as Error).message }, 'request failed');
          sendJson(response, 500, { error: { code: 'SIMIAN_INTERNAL', message: 'internal error' } });
        }
      });
    });
    this.hub.attach(this.server);
  }

  async listen(): Promise<{ url: string; agentUrl: string }> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void =>
        reject(
          new SimianError(
            'SIMIAN_LISTEN_FAILED',
            `cannot listen on ${host}:${this.options.port ?? 7340}: ${error.code ?? error.message}`,
            {
              hint:
                error.code === 'EADDRINUSE'
                  ? 'another process uses that port; pick another with --listen HOST:PORT'
                  : undefined,
            },
          ),
        );
      this.server.once('error', onError);
      this.server.listen(this.options.port ?? 7340, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return {
      url: `http://${hostPart}:${address.port}`,
      agentUrl: `ws://${hostPart}:${address.port}${AGENT_PATH}`,
    };
  }

  /** Serves `GET /v1/schedules` from the scheduler of `simian serve --experiments`. */
  setScheduleLister(lister: ScheduleLister): void {
    this.schedules = lister;
  }

  /** Aborts every run (their faults are reverted), then closes agents and the listener. */
  async close(): Promise<void> {
    for (const controller of this.runs.values()) controller.abort();
    await Promise.allSettled([...this.running]);
    await this.hub.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'GET' && url.pathname === '/healthz') {
      sendJson(response, 200, { ok: true });
      return;
    }
    if (!hasValidToken(request, this.options.token)) {
      this.options.logger.warn(
        { path: url.pathname, remote: request.socket.remoteAddress },
        'API call refused: missing or wrong token',
      );
      sendJson(response, 401, { error: { code: 'SIMIAN_UNAUTHORIZED', message: 'missing or wrong token' } });
      return;
    }
    if (request.method === 'GET' && url.pathname === '/v1/agents') {
      sendJson(response, 200, { agents: this.hub.agents() });
      return;
    }
    if (request.method === 'POST' && url.pathname === '/v1/runs') {
      await this.startRun(request, response);
      return;
    }
    if (request.method === 'GET' && url.pathname === '/v1/schedules') {
      sendJson(response, 200, this.schedules?.list() ?? emptyScheduleListing());
      return;
    }
    const fromHistory = await routeHistory(this.options.history, request.method, url);
    if (fromHistory) {
      sendJson(response, fromHistory.status, fromHistory.body);
      return;
    }
    const halt = /^\/v1\/runs\/([^/]+)\/halt$/.exec(url.pathname);
    if (request.method === 'POST' && halt) {
      const controller = this.runs.get(decodeURIComponent(halt[1] as string));
      if (!controller) {
        sendJson(response, 404, { error: { code: 'SIMIAN_USAGE', message: `no active run ${halt[1]}` } });
        return;
      }
      controller.abort();
      sendJson(response, 202, { halting: true });
      return;
    }
    sendJson(response, 404, {
      error: { code: 'SIMIAN_USAGE', message: `no route ${request.method} ${url.pathname}` },
    });
  }

  private async startRun(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request, 2 * MAX_FRAME_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      sendJson(response, 400, { error: { code: 'SIMIAN_USAGE', message: 'request body is not JSON' } });
      return;
    }
    const parsed = runRequestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      sendJson(response, 400, {
        error: {
          code: 'SIMIAN_USAGE',
          message: `bad run request: ${issue?.path.join('.')}: ${issue?.message}`,
        },
      });
      return;
    }
    const runRequest = parsed.data;
    const loaded = parseExperimentSource(runRequest.source, runRequest.file);
    if (!loaded.ok) {
      sendJson(response, 400, {
        error: { code: 'SIMIAN_INVALID_EXPERIMENT', message: loaded.issues.map(formatIssue).join('\n') },
      });
      return;
    }
    response.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const emit = (event: RunEvent): void => {
      if (!response.writableEnded) response.write(`${JSON.stringify(event)}\n`);
    };
    // A client that goes away (Ctrl-C, lost pipeline) halts its run: nobody is watching it.
    const clientGone = new AbortController();
    response.on('close', () => {
      if (!response.writableFinished) clientGone.abort();
    });
    try {
      const launched = await this.launchRun({
        experiment: loaded.experiment,
        file: runRequest.file,
        source: runRequest.origin ?? this.options.historySource ?? 'api',
        dryRun: runRequest.dryRun,
        emit,
        signal: clientGone.signal,
        ...(runRequest.leaseMs === undefined ? {} : { leaseMs: runRequest.leaseMs }),
        ...(runRequest.seed === undefined ? {} : { seed: runRequest.seed }),
      });
      await launched.done;
    } finally {
      response.end();
    }
  }

  /**
   * Starts a run: what `POST /v1/runs` does once the request is read, and how the scheduler starts
   * its runs, so both are recorded in the history alike, can be halted by id and are aborted by
   * `close`. Resolves once the run is recorded and started; `done` settles after it ended and its
   * end is recorded.
   */
  async launchRun(request: LaunchRunRequest): Promise<LaunchedRun> {
    const controller = new AbortController();
    const runId = newRunId();
    const emit = request.emit ?? (() => {});
    if (request.signal?.aborted) controller.abort();
    request.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    const options = {
      runId,
      experiment: request.experiment,
      file: request.file,
      signal: controller.signal,
      emit,
      logger: this.options.logger,
      leaseMs: request.leaseMs ?? this.options.leaseMs ?? 30_000,
      ...(request.seed === undefined ? {} : { seed: request.seed }),
    };
    // Recorded before anything is touched, so a crash from here on leaves a trace in the history.
    const recorded =
      request.dryRun !== true &&
      (await this.recorder.start({
        runId,
        experiment: request.experiment.metadata.name,
        file: request.file,
        source: request.source,
      }));
    let end: RunEnd = { verdict: 'error', reason: 'the run ended without a journal' };
    const work = (async (): Promise<LaunchOutcome> => {
      try {
        if (request.dryRun === true) {
          const plan = await planExperiment(this.hub, options);
          emit({ type: 'plan', plan });
          return { kind: 'plan', plan };
        }
        const journal = await runExperiment(this.hub, options);
        end = { journal };
        emit({ type: 'journal', journal });
        return { kind: 'journal', journal };
      } catch (error) {
        end = { verdict: 'error', reason: (error as Error).message };
        const failure = isSimianError(error)
          ? {
              code: error.code,
              message: error.message,
              ...(error.hint === undefined ? {} : { hint: error.hint }),
            }
          : { code: 'SIMIAN_INTERNAL', message: (error as Error).message };
        emit({ type: 'failure', error: failure });
        return { kind: 'failure', error: failure };
      } finally {
        // Before the stream ends, so a client that exits on its last line finds the run finished.
        if (recorded) await this.recorder.finish(runId, end);
      }
    })();
    this.runs.set(runId, controller);
    this.running.add(work);
    const done = work.finally(() => {
      this.runs.delete(runId);
      this.running.delete(work);
    });
    return { runId, halt: () => controller.abort(), done };
  }
}

/** What answers `GET /v1/schedules` (the scheduler). */
export interface ScheduleLister {
  list(): ScheduleListing;
}

/** A run to start (`launchRun`): from `POST /v1/runs`, or from the scheduler. */
export interface LaunchRunRequest {
  experiment: Experiment;
  file: string;
  /** What started the run, recorded in the history. */
  source: RunSource;
  /** Only resolve targets; nothing is recorded. @default false */
  dryRun?: boolean;
  seed?: number;
  /** @default the server's leaseMs */
  leaseMs?: number;
  /** Progress, as `POST /v1/runs` streams it. */
  emit?: (event: RunEvent) => void;
  /** Halts the run when it aborts. */
  signal?: AbortSignal;
}

/** How a launched run ended: its journal, a dry run's plan, or why neither could be produced. */
export type LaunchOutcome =
  | { kind: 'journal'; journal: Journal }
  | { kind: 'plan'; plan: Plan }
  | { kind: 'failure'; error: { code: string; message: string; hint?: string } };

export interface LaunchedRun {
  runId: string;
  /** Halts the run: its faults are reverted at once (verdict aborted). */
  halt(): void;
  /** Settles once the run has ended and its end is recorded. */
  done: Promise<LaunchOutcome>;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new SimianError('SIMIAN_MESSAGE_TOO_LARGE', `request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
