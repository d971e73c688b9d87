import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = join(repoRoot, 'packages/orchestrator/dist/cli/main.js');

export function requireBuiltCli(): void {
  if (!existsSync(cliPath))
    throw new Error(`${cliPath} is missing: run \`pnpm build\` before the end-to-end tests`);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `simian` CLI as a real process, bounded by `timeoutMs`. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  requireBuiltCli();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts the CLI in the background (serve, agent, a long run); the caller kills it by pid. */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  requireBuiltCli();
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** A temp dir for experiment files, journals and state; removed by `cleanup`. */
export async function tempWorkspace(prefix: string): Promise<{
  dir: string;
  write: (name: string, text: string) => Promise<string>;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), `simian-${prefix}-`));
  return {
    dir,
    async write(name, text) {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** An experiment file's text from parts, so tests state only what they vary. */
export function experimentYaml(options: {
  name: string;
  driver: 'process' | 'docker';
  labels: Record<string, string>;
  mode?: string;
  fault: string;
  duration: string;
  probeUrl: string;
  before?: string;
  after?: string;
  stopWhen?: string;
  successRate?: number;
}): string {
  const labels = Object.entries(options.labels)
    .map(([key, value]) => `        ${JSON.stringify(key)}: ${JSON.stringify(value)}`)
    .join('\n');
  return `apiVersion: simian.dev/v1alpha1
kind: Experiment
metadata:
  name: ${options.name}
spec:
  target:
    driver: ${options.driver}
    selector:
      labels:
${labels}
    mode: ${options.mode ?? 'one'}
  faults:
    - ${options.fault}
  duration: ${options.duration}
  steadyState:
    probes:
      - name: web-up
        http: { url: ${options.probeUrl}, timeout: 1s, expect: { status: 200 } }
        interval: 150ms
        tolerance: { successRate: ${options.successRate ?? 0.95} }
    before: ${options.before ?? '1s'}
    after: ${options.after ?? '5s'}
${options.stopWhen ? `  stopWhen:\n    - ${options.stopWhen}\n` : ''}`;
}

/** Freezes every replica of `app` for far longer than a test waits: only a crash or a halt ends it. */
export function pauseAllFor2Minutes(name: string, app: string, probeUrl: string): string {
  return experimentYaml({
    name,
    driver: 'process',
    labels: { app },
    mode: 'all',
    fault: 'type: pause',
    duration: '120s',
    probeUrl,
    before: '300ms',
    successRate: 0,
  });
}
