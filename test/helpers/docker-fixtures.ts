// Real containers for the Docker end-to-end tests, driven through the `docker` CLI: `dockerode`
// is a dependency of packages/agent only and does not resolve from test/.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';

/** The image built by the global setup: busybox-static with `/www/health` (`ok`) and `/www/index.html`. */
export const TEST_IMAGE = 'simian-test/busybox:1';

/** Every container a test creates carries this label; the global teardown removes leftovers by it. */
export const TEST_LABEL = 'simian.test';

/**
 * Marks the vitest run that created a container, so that the teardown of one run does not remove
 * the containers of another run going on in the same tree.
 */
export const TEST_SESSION_LABEL = 'simian.test.session';

const DOCKER_TIMEOUT_MS = 60_000;
const HEALTH_TIMEOUT_MS = 15_000;

export interface DockerResult {
  stdout: string;
  stderr: string;
}

/** An error from the docker CLI, with its arguments and stderr in the message. */
export class DockerCommandError extends Error {
  readonly args: readonly string[];
  readonly stderr: string;
  readonly exitCode: number | null;

  constructor(args: readonly string[], exitCode: number | null, stderr: string, cause?: unknown) {
    super(`docker ${args.join(' ')} failed (exit ${exitCode ?? 'none'}): ${stderr.trim() || String(cause)}`, {
      cause,
    });
    this.name = 'DockerCommandError';
    this.args = args;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

/** Runs `docker ARGS...` (optionally feeding `input` on stdin) and resolves with its output. */
export function docker(
  args: readonly string[],
  options: { input?: NodeJS.ReadableStream; timeoutMs?: number } = {},
): Promise<DockerResult> {
  const timeoutMs = options.timeoutMs ?? DOCKER_TIMEOUT_MS;
  if (!options.input) {
    return new Promise((resolve, reject) => {
      execFile(
        'docker',
        [...args],
        { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err) {
            const code = typeof err.code === 'number' ? err.code : null;
            reject(new DockerCommandError(args, code, stderr || err.message, err));
          } else {
            resolve({ stdout, stderr });
          }
        },
      );
    });
  }
  const input = options.input;
  return new Promise((resolve, reject) => {
    const child = spawn('docker', [...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdin.on('error', () => {
      // docker exited before reading all of stdin; its exit status and stderr say why.
    });
    input.on('error', (err) => {
      child.kill('SIGKILL');
      reject(new DockerCommandError(args, null, `reading stdin failed: ${err.message}`, err));
    });
    input.pipe(child.stdin);
    child.on('error', (err) => reject(new DockerCommandError(args, null, err.message, err)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new DockerCommandError(args, code, stderr || `terminated by ${signal}`));
    });
  });
}

/**
 * Whether a Docker Engine answers (`docker info`). Used by the global setup; tests use
 * {@link dockerAvailable} instead, which does not ask the engine again.
 */
export async function isDockerReachable(timeoutMs = 10_000): Promise<boolean> {
  try {
    await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the Docker tests can run, as decided once by the global setup (the engine answered and
 * the test image exists). Synchronous, for `describe.skipIf(!dockerAvailable())`.
 */
export function dockerAvailable(): boolean {
  return inject('dockerAvailable') === true;
}

/**
 * The labels every test container must carry: `simian.test=e2e` and this run's
 * `simian.test.session`. Spread them into the labels of containers a test creates by other means.
 */
export function testLabels(): Record<string, string> {
  const session = inject('testSession');
  return session ? { [TEST_LABEL]: 'e2e', [TEST_SESSION_LABEL]: session } : { [TEST_LABEL]: 'e2e' };
}

/** Restart policies `docker run --restart` accepts. */
export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | 'on-failure' | `on-failure:${number}`;

export interface StartWebContainersOptions {
  /** How many containers to start. */
  count: number;
  /** Extra labels, e.g. `{ app: 'web' }`; `simian.test=e2e` and `simian.test.run=<uuid>` are always added. */
  labels?: Record<string, string>;
  /** @default 'no' */
  restartPolicy?: RestartPolicy;
}

export interface WebContainers {
  /** Full container ids, in start order. */
  ids: string[];
  /** Host port on 127.0.0.1 published for each container's port 80, same order as `ids`. */
  ports: number[];
  /** The value of the `simian.test.run` label shared by these containers. */
  runId: string;
  /** Removes the containers (force, with volumes). Safe to call twice. */
  cleanup(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `count` busybox httpd containers from {@link TEST_IMAGE}, each serving `/www` on port 80
 * published on `127.0.0.1::80`, and resolves once every one answers `GET /health` with 200.
 * On failure the containers already created are removed before the error is thrown.
 */
export async function startWebContainers(options: StartWebContainersOptions): Promise<WebContainers> {
  const { count, labels = {}, restartPolicy = 'no' } = options;
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`startWebContainers: count must be a positive integer, got ${count}`);
  }
  const runId = randomUUID();
  const labelArgs = Object.entries({ ...labels, ...testLabels(), [`${TEST_LABEL}.run`]: runId }).flatMap(
    ([key, value]) => ['--label', `${key}=${value}`],
  );
  const ids: string[] = [];
  let removed: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    removed ??= removeContainers(ids);
    return removed;
  };
  try {
    for (let i = 0; i < count; i++) {
      const { stdout } = await docker([
        'run',
        '--detach',
        ...labelArgs,
        '--restart',
        restartPolicy,
        '--publish',
        '127.0.0.1::80',
        TEST_IMAGE,
        '/bin/busybox',
        'httpd',
        '-f',
        '-p',
        '80',
        '-h',
        '/www',
      ]);
      ids.push(stdout.trim());
    }
    const ports = await Promise.all(ids.map((id) => publishedPort(id, 80)));
    await Promise.all(ids.map((id, i) => waitForHealth(id, ports[i] as number)));
    return { ids, ports, runId, cleanup, [Symbol.asyncDispose]: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The host port (on 127.0.0.1) that a running container publishes for `containerPort`/tcp. */
export async function publishedPort(id: string, containerPort: number): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const info = await inspectContainer(id);
    const bindings = info.NetworkSettings?.Ports?.[`${containerPort}/tcp`];
    const hostPort = bindings?.find((b) => b.HostIp === '127.0.0.1' || b.HostIp === '')?.HostPort;
    if (hostPort) return Number(hostPort);
    if (Date.now() > deadline) {
      throw new Error(`container ${short(id)} publishes no host port for ${containerPort}/tcp`);
    }
    await sleep(50);
  }
}

async function waitForHealth(id: string, port: number): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last =
        err instanceof Error ? `${err.message}${err.cause ? ` (${String(err.cause)})` : ''}` : String(err);
    }
    await sleep(100);
  }
  const logs = await docker(['logs', '--tail', '20', id]).catch((err: unknown) => ({
    stdout: '',
    stderr: String(err),
  }));
  throw new Error(
    `container ${short(id)} did not answer GET http://127.0.0.1:${port}/health with 200 within ${HEALTH_TIMEOUT_MS} ms (last: ${last}); logs:\n${logs.stdout}${logs.stderr}`,
  );
}

/** Removes containers by id (force, with anonymous volumes); ids that no longer exist are ignored. */
export async function removeContainers(ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  try {
    await docker(['rm', '--force', '--volumes', ...ids]);
  } catch (err) {
    // `docker rm` removes what it can and fails for the rest; only missing ones are fine.
    if (!(err instanceof DockerCommandError)) throw err;
    const problems = err.stderr
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !/no such container/i.test(line));
    if (problems.length > 0) throw err;
  }
}

/** Ids of all containers (running or not) carrying `label` (`key` or `key=value`). */
export async function listContainers(label: string): Promise<string[]> {
  const { stdout } = await docker(['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=${label}`]);
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

export interface ContainerState {
  /** `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`. */
  status: string;
  running: boolean;
  paused: boolean;
  exitCode: number;
  restartCount: number;
  /** ISO timestamp of the last start (`0001-01-01T00:00:00Z` if never started). */
  startedAt: string;
  pid: number;
}

interface InspectedContainer {
  Id: string;
  RestartCount?: number;
  State?: {
    Status?: string;
    Running?: boolean;
    Paused?: boolean;
    ExitCode?: number;
    StartedAt?: string;
    Pid?: number;
  };
  Config?: { Labels?: Record<string, string> | null };
  NetworkSettings?: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
}

/** The raw `docker inspect` document of one container. */
export async function inspectContainer(id: string): Promise<InspectedContainer> {
  const { stdout } = await docker(['container', 'inspect', id]);
  const parsed = JSON.parse(stdout) as InspectedContainer[];
  const first = parsed[0];
  if (!first) throw new Error(`docker inspect returned nothing for container ${short(id)}`);
  return first;
}

export interface CreatedContainer {
  id: string;
  name: string;
  /** Creation time, ms since the epoch. */
  created: number;
  /** Value of the {@link TEST_SESSION_LABEL} label, if any. */
  session: string | undefined;
  /** All labels as `k=v,k=v`, for messages. */
  labels: string;
}

/** Id, name, creation time and labels of each container; containers gone in the meantime are left out. */
export async function inspectCreated(ids: readonly string[]): Promise<CreatedContainer[]> {
  const found = await Promise.all(
    ids.map(async (id) => {
      try {
        const { stdout } = await docker(['container', 'inspect', id]);
        const info = (JSON.parse(stdout) as (InspectedContainer & { Name?: string; Created?: string })[])[0];
        if (!info) return [];
        const labels = info.Config?.Labels ?? {};
        return [
          {
            id: info.Id,
            name: (info.Name ?? '').replace(/^\//, ''),
            created: Date.parse(info.Created ?? ''),
            session: labels[TEST_SESSION_LABEL],
            labels: Object.entries(labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          },
        ];
      } catch (err) {
        if (err instanceof DockerCommandError && /no such (container|object)/i.test(err.stderr)) return [];
        throw err;
      }
    }),
  );
  return found.flat();
}

/** Whether a container with this id (or name) exists. */
export async function containerExists(id: string): Promise<boolean> {
  try {
    await docker(['container', 'inspect', '--format', '{{.Id}}', id]);
    return true;
  } catch (err) {
    if (err instanceof DockerCommandError && /no such (container|object)/i.test(err.stderr)) return false;
    throw err;
  }
}

/** The current state of a container; throws if it does not exist. */
export async function containerState(id: string): Promise<ContainerState> {
  const info = await inspectContainer(id);
  const state = info.State ?? {};
  return {
    status: state.Status ?? 'unknown',
    running: state.Running ?? false,
    paused: state.Paused ?? false,
    exitCode: state.ExitCode ?? 0,
    restartCount: info.RestartCount ?? 0,
    startedAt: state.StartedAt ?? '',
    pid: state.Pid ?? 0,
  };
}

/**
 * Polls `containerState(id)` until `predicate` holds, bounded by `timeoutMs`; resolves with the
 * state that satisfied it, or throws with the last state seen.
 */
export async function waitForContainerState(
  id: string,
  predicate: (state: ContainerState) => boolean,
  timeoutMs = 10_000,
): Promise<ContainerState> {
  const deadline = Date.now() + timeoutMs;
  let state = await containerState(id);
  while (!predicate(state)) {
    if (Date.now() > deadline) {
      throw new Error(
        `container ${short(id)} did not reach the expected state within ${timeoutMs} ms; last: ${JSON.stringify(state)}`,
      );
    }
    await sleep(100);
    state = await containerState(id);
  }
  return state;
}

/** Types of demo/balancer.mjs, which is plain JavaScript without declarations. */
export interface DemoBalancer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export interface DemoBalancerOptions {
  /** @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** `HOST:PORT` of every backend, e.g. the `ports` of {@link startWebContainers}. */
  backends: string[];
  /** Time until a backend's response headers before the next backend is tried. @default 300 */
  backendTimeoutMs?: number;
}

/** Starts the demo's round-robin balancer (demo/balancer.mjs) in this process, e.g. in front of containers. */
export async function startDemoBalancer(options: DemoBalancerOptions): Promise<DemoBalancer> {
  // A non-literal specifier keeps tsc from looking for declarations of the .mjs file.
  const specifier = new URL('../../demo/balancer.mjs', import.meta.url).href;
  const mod = (await import(specifier)) as {
    startBalancer: (options: DemoBalancerOptions) => Promise<DemoBalancer>;
  };
  return mod.startBalancer(options);
}

function short(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}
