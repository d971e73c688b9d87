// The process interface, on the real entry point. It is transpiled from this directory's sources
// into a temporary directory (with the agent's node_modules linked for zod), so the test runs the
// code under test without depending on the state of the package build.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killChildren } from '../../../../../test/helpers/processes.js';
import {
  encodeFaultProxyConfig,
  type FaultProxyConfigInput,
  verifyAnswer,
  verifyRequest,
} from './fault-proxy.js';

const HOST = '127.0.0.1';
const TOKEN = 'c0ffee';
const here = fileURLToPath(new URL('.', import.meta.url));
const agentModules = fileURLToPath(new URL('../../../node_modules', import.meta.url));

let dir: string;
let main: string;
const children: ChildProcessWithoutNullStreams[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simian-fault-proxy-'));
  const out = join(dir, 'proxy');
  await mkdir(out);
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  await symlink(agentModules, join(dir, 'node_modules'), 'dir');
  for (const name of ['fault-proxy-main', 'fault-proxy', 'timer-queue']) {
    const source = await readFile(join(here, `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: `${name}.ts`,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    await writeFile(join(out, `${name}.js`), outputText);
  }
  main = join(out, 'fault-proxy-main.js');
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await killChildren(children.splice(0));
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))),
  );
});

interface Run {
  child: ChildProcessWithoutNullStreams;
  /** The first stdout line, parsed. */
  first: Promise<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (newline !== -1) resolve(JSON.parse(stdout.slice(0, newline)) as Record<string, unknown>);
    });
    child.once('exit', () => reject(new Error(`exited before a line on stdout; stderr: ${stderr}`)));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, first, exit, stderr: () => stderr };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function echoServer(): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  servers.push(server);
  server.listen(0, HOST);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function config(upstreamPort: number, deadline: number, listenPort = 0): string {
  return encodeFaultProxyConfig({
    deadline,
    verifyToken: TOKEN,
    listeners: [
      {
        listen: { host: HOST, port: listenPort },
        upstream: { host: HOST, port: upstreamPort },
        behaviour: { kind: 'latency', delayMs: 20, jitterMs: 0 },
      },
      {
        listen: { host: HOST, port: 0 },
        upstream: { host: HOST, port: upstreamPort },
        behaviour: { kind: 'timeout' },
      },
    ],
  } satisfies FaultProxyConfigInput);
}

async function verify(port: number): Promise<string> {
  const socket = connect({ host: HOST, port });
  sockets.push(socket);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(verifyRequest(TOKEN));
  let answer = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    answer += chunk;
  });
  await within(once(socket, 'close'), 5_000, 'verification');
  return answer;
}

describe('fault-proxy-main', () => {
  it('reports ready, serves, follows deadline updates on stdin and exits 0 at the deadline', async () => {
    const upstream = await echoServer();
    const tag = `test-${process.pid}-deadline`;
    const proxy = run(['--fault', tag, '--config', config(upstream, Date.now() + 30_000)]);
    const ready = await within(proxy.first, 10_000, 'ready line');
    expect(ready).toEqual({
      ready: true,
      pid: proxy.child.pid,
      ports: [expect.any(Number), expect.any(Number)],
    });
    const ports = ready.ports as number[];
    expect(ports[0]).not.toBe(ports[1]);

    // How the agent finds the process again.
    const cmdline = await readFile(`/proc/${proxy.child.pid}/cmdline`, 'utf8');
    expect(cmdline.split('\0')).toEqual(expect.arrayContaining(['--fault', tag]));

    expect(await verify(ports[0] as number)).toBe(verifyAnswer(TOKEN));
    expect(await verify(ports[1] as number)).toBe(verifyAnswer(TOKEN));

    proxy.child.stdin.write('not json\n{"deadline":"soon"}\n');
    proxy.child.stdin.write(`${JSON.stringify({ deadline: Date.now() + 300 })}\n`);
    expect(await within(proxy.exit, 5_000, 'exit at the moved deadline')).toEqual({ code: 0, signal: null });
    expect(proxy.stderr()).toContain('skipped a line that is not JSON');
    expect(proxy.stderr()).toContain('skipped a bad deadline update');
    const last = JSON.parse(proxy.stderr().trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(last).toMatchObject({ msg: `fault ${tag}: deadline reached`, stats: { verified: 2 } });
  });

  it('keeps running when stdin ends, and exits 0 promptly on SIGTERM', async () => {
    const upstream = await echoServer();
    const proxy = run(['--fault', 'test-sigterm', '--config', config(upstream, Date.now() + 30_000)]);
    const ready = await within(proxy.first, 10_000, 'ready line');
    proxy.child.stdin.end();
    await sleep(300);
    expect(proxy.child.exitCode).toBeNull();
    // An open connection must not hold the exit up.
    const held = connect({ host: HOST, port: (ready.ports as number[])[1] as number });
    sockets.push(held);
    held.on('error', () => undefined);
    await once(held, 'connect');
    proxy.child.kill('SIGTERM');
    expect(await within(proxy.exit, 2_000, 'exit on SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('answers a bad config with one error line and exit 1', async () => {
    const bad = Buffer.from(JSON.stringify({ deadline: 1, verifyToken: TOKEN, listeners: [] })).toString(
      'base64url',
    );
    const proxy = run(['--fault', 'test-bad', '--config', bad]);
    expect(await within(proxy.first, 10_000, 'error line')).toEqual({
      error: expect.stringContaining('config: listeners:'),
    });
    expect((await proxy.exit).code).toBe(1);
  });

  it('answers a port in use with one error line and exit 1', async () => {
    const taken = await echoServer();
    const proxy = run(['--fault', 'test-taken', '--config', config(taken, Date.now() + 30_000, taken)]);
    expect(await within(proxy.first, 10_000, 'error line')).toEqual({
      error: expect.stringContaining(`listen ${HOST}:${taken}: listen EADDRINUSE`),
    });
    expect((await proxy.exit).code).toBe(1);
  });
});
