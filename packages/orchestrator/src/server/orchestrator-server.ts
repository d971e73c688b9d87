import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSimianError, MAX_FRAME_BYTES, SimianError } from '@simian/protocol';
import type { Logger } from 'pino';
import { z } from 'zod';
import { formatIssue, parseExperimentSource } from '../experiments/load.js';
import { hasValidToken } from '../hub/auth.js';
import { AGENT_PATH, Hub } from '../hub/hub.js';
import { newRunId } from '../runner/journal.js';
import type { RunEvent } from '../runner/run-events.js';
import { planExperiment, runExperiment } from '../runner/run-experiment.js';

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
});
export type RunRequest = z.input<typeof runRequestSchema>;

/** `simian serve`: the agents' WebSocket hub plus the HTTP API clients use. */
export class OrchestratorServer {
  readonly hub: Hub;
  private readonly server: Server;
  private readonly runs = new Map<string, AbortController>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly options: OrchestratorServerOptions) {
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
    const controller = new AbortController();
    const runId = newRunId();
    response.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const emit = (event: RunEvent): void => {
      if (!response.writableEnded) response.write(`${JSON.stringify(event)}\n`);
    };
    // A client that goes away (Ctrl-C, lost pipeline) halts its run: nobody is watching it.
    response.on('close', () => {
      if (!response.writableFinished) controller.abort();
    });
    const options = {
      runId,
      experiment: loaded.experiment,
      file: runRequest.file,
      signal: controller.signal,
      emit,
      logger: this.options.logger,
      leaseMs: runRequest.leaseMs ?? this.options.leaseMs ?? 30_000,
      ...(runRequest.seed === undefined ? {} : { seed: runRequest.seed }),
    };
    const work = (async () => {
      try {
        if (runRequest.dryRun) {
          const plan = await planExperiment(this.hub, options);
          emit({ type: 'plan', plan });
        } else {
          const journal = await runExperiment(this.hub, options);
          emit({ type: 'journal', journal });
        }
      } catch (error) {
        emit({
          type: 'failure',
          error: isSimianError(error)
            ? {
                code: error.code,
                message: error.message,
                ...(error.hint === undefined ? {} : { hint: error.hint }),
              }
            : { code: 'SIMIAN_INTERNAL', message: (error as Error).message },
        });
      } finally {
        response.end();
      }
    })();
    this.runs.set(runId, controller);
    this.running.add(work);
    try {
      await work;
    } finally {
      this.runs.delete(runId);
      this.running.delete(work);
    }
  }
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
