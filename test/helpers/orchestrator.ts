// `simian serve` and `simian agent` as real processes for the end-to-end tests, each started and
// waited for until it is ready (serve listening, agent connected), and stopped by its pid.
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { startCli } from './cli.js';
import { isProcessAlive } from './leftovers.js';
import { eventually } from './wait.js';

/** How long a started process has to log that it is ready. */
const READY_TIMEOUT_MS = 15_000;

/** A port free right now: serve must be told its port, and a restart reuses it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A started `simian serve` or `simian agent`. */
export interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** Its stdout and stderr so far. */
  output: () => string;
  exited: Promise<number | null>;
  /** Ends the process if it still runs; resolves once it has exited. */
  stop: () => Promise<void>;
}

export interface ServeProcess extends CliProcess {
  port: number;
  /** `http://127.0.0.1:<port>`, for clients' `--orchestrator`. */
  url: string;
  /** `ws://127.0.0.1:<port>`, for agents' `--orchestrator`. */
  agentUrl: string;
}

interface ProcessOptions {
  tokenFile: string;
  /** Added to this process's environment; SIMIAN_STATE_DIR keeps state out of ~/.simian. */
  env: NodeJS.ProcessEnv;
  /** The test's cleanups: `stop` goes on it as soon as the process is spawned. */
  cleanups: Array<() => Promise<void> | void>;
}

export interface ServeOptions extends ProcessOptions {
  /** `--lease`. */
  lease: string;
  /** `--heartbeat`. @default '500ms' */
  heartbeat?: string;
  /** `--experiments`: the directory of scheduled experiments. */
  experiments?: string;
  /** A restart passes the port of the serve it replaces. @default a free port */
  port?: number;
}

export interface AgentOptions extends ProcessOptions {
  /** The serve the agent dials; it counts as connected once both ends say so. */
  serve: ServeProcess;
  name: string;
  driver: 'process' | 'docker';
  /** `--orchestrator`. @default serve.agentUrl */
  orchestrator?: string;
  zone?: string;
  /** `--ledger`; a restart with the same path recovers what the previous agent left applied. */
  ledger?: string;
}

/** Starts `simian serve` on 127.0.0.1 and resolves once it listens; `stop` SIGKILLs it. */
export async function startServe(options: ServeOptions): Promise<ServeProcess> {
  const port = options.port ?? (await freePort());
  const started = start(
    [
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      ...(options.experiments === undefined ? [] : ['--experiments', options.experiments]),
      '--lease',
      options.lease,
      '--heartbeat',
      options.heartbeat ?? '500ms',
      '--token-file',
      options.tokenFile,
    ],
    options,
    async (running) => {
      running.child.kill('SIGKILL');
      await running.exited;
    },
  );
  expect(
    await eventually(() => started.output().includes('orchestrator listening'), READY_TIMEOUT_MS),
    started.output(),
  ).toBe(true);
  return { ...started, port, url: `http://127.0.0.1:${port}`, agentUrl: `ws://127.0.0.1:${port}` };
}

/**
 * Starts `simian agent` and resolves once it is connected: the agent logs the session it got, and
 * the serve logs (after this start) that it registered an agent. `stop` sends SIGTERM, so the agent
 * reverts what it holds, and SIGKILLs it when it takes more than 10 s.
 */
export async function startAgent(options: AgentOptions): Promise<CliProcess> {
  const { serve } = options;
  const serveSeen = serve.output().length;
  const started = start(
    [
      'agent',
      '--orchestrator',
      options.orchestrator ?? serve.agentUrl,
      '--name',
      options.name,
      ...(options.zone === undefined ? [] : ['--zone', options.zone]),
      '--driver',
      options.driver,
      ...(options.ledger === undefined ? [] : ['--ledger', options.ledger]),
      '--token-file',
      options.tokenFile,
    ],
    options,
    async (running) => {
      running.child.kill('SIGTERM');
      await Promise.race([running.exited, sleep(10_000)]);
      if (isProcessAlive(running.pid)) {
        running.child.kill('SIGKILL');
        await running.exited;
      }
    },
  );
  expect(
    await eventually(() => started.output().includes('connected to the orchestrator'), READY_TIMEOUT_MS),
    started.output(),
  ).toBe(true);
  expect(
    await eventually(() => serve.output().slice(serveSeen).includes('"agent connected"'), READY_TIMEOUT_MS),
    serve.output(),
  ).toBe(true);
  return started;
}

function start(
  args: string[],
  options: ProcessOptions,
  halt: (running: CliProcess) => Promise<void>,
): CliProcess {
  const { child, output, exited } = startCli(args, options.env);
  if (child.pid === undefined) throw new Error(`simian ${args[0]} has no pid`);
  const started: CliProcess = {
    child,
    pid: child.pid,
    output,
    exited,
    stop: async () => {
      if (isProcessAlive(started.pid)) await halt(started);
    },
  };
  options.cleanups.push(started.stop);
  return started;
}
