import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type NetworkNamespace, spawnInNamespace } from './netns.js';
import { PROXY_UID } from './nft-ruleset.js';

/** The proxy runs from the agent's build output (src and dist both sit two levels below the package). */
export const PROXY_SCRIPT = fileURLToPath(
  new URL('../../dist/network/proxy/fault-proxy-main.js', import.meta.url),
);

const READY_TIMEOUT_MS = 10_000;
/** A nice value well above ordinary services (0) and below the kernel's own threads. */
const PROXY_PRIORITY = -10;
const STOP_GRACE_MS = 1_000;

export type ProxyBehaviour =
  | { kind: 'latency'; delayMs: number; jitterMs: number }
  | { kind: 'bandwidth'; bytesPerSecond: number }
  | { kind: 'timeout' };

export interface ProxyListener {
  listen: { host: string; port: number };
  upstream: { host: string; port: number };
  behaviour: ProxyBehaviour;
}

export interface ProxyConfig {
  deadline: number;
  verifyToken: string;
  listeners: ProxyListener[];
}

export interface RunningProxy {
  child: ChildProcess;
  pid: number;
  /** The port each listener got, in order. */
  ports: number[];
}

/**
 * Starts a fault proxy in the namespace, unprivileged (its uid is what the redirect rules exempt),
 * and waits until every listener listens. `tag` is in its argv so `stopProxies` finds it later,
 * also from another agent process after a crash.
 */
export async function startProxy(
  ns: NetworkNamespace,
  tag: string,
  config: ProxyConfig,
): Promise<RunningProxy> {
  const encoded = Buffer.from(JSON.stringify(config)).toString('base64url');
  const child = spawnInNamespace(ns, process.execPath, [PROXY_SCRIPT, '--fault', tag, '--config', encoded], {
    uid: PROXY_UID,
    gid: PROXY_UID,
  });
  // A renewal written to a proxy that just exited must not crash the agent with EPIPE.
  child.stdin?.on('error', () => undefined);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  try {
    const ready = await new Promise<{ pid: number; ports: number[] }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the fault proxy did not report ready within ${READY_TIMEOUT_MS}ms`)),
        READY_TIMEOUT_MS,
      );
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `the fault proxy exited (${signal ?? `code ${code}`}) before it was ready: ${stderr.trim()}`,
          ),
        );
      });
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          const parsed = JSON.parse(line) as {
            ready?: boolean;
            pid?: number;
            ports?: number[];
            error?: string;
          };
          if (parsed.ready === true && Array.isArray(parsed.ports) && typeof parsed.pid === 'number') {
            resolve({ pid: parsed.pid, ports: parsed.ports });
          } else reject(new Error(`the fault proxy failed: ${parsed.error ?? line}`));
        } catch {
          reject(new Error(`the fault proxy said something unexpected: ${line}`));
        }
      });
    });
    if (ready.ports.length !== config.listeners.length)
      throw new Error(
        `the fault proxy opened ${ready.ports.length} listeners, not ${config.listeners.length}`,
      );
    child.removeAllListeners('exit');
    raisePriority(ready.pid);
    return { child, pid: ready.pid, ports: ready.ports };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    lines.close();
  }
}

/**
 * A delay is only as exact as the proxy's wake-ups: on a busy host the services around it would
 * otherwise make it late by milliseconds. It does little work, so a higher CPU priority costs the
 * host next to nothing. Needs root; without it the proxy keeps the default priority.
 */
function raisePriority(pid: number): void {
  try {
    setPriority(pid, PROXY_PRIORITY);
  } catch {
    // Not permitted (not root): delays may run late under load, nothing worse.
  }
}

/** Tells a running proxy its new deadline (lease renewal). */
export function moveProxyDeadline(proxy: RunningProxy, deadline: number): void {
  if (proxy.child.stdin?.writable) proxy.child.stdin.write(`${JSON.stringify({ deadline })}\n`);
}

/** Pids of every fault proxy started for `tag`, found by their argv (works after an agent restart). */
export function findProxies(tag: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = argv.indexOf('--fault');
    if (at > 0 && argv[at + 1] === tag && argv.some((arg) => arg.endsWith('fault-proxy-main.js')))
      pids.push(Number(entry));
  }
  return pids;
}

/** Stops every proxy of `tag`: SIGTERM, then SIGKILL after a grace period. Returns their pids. */
export async function stopProxies(tag: string): Promise<number[]> {
  const pids = findProxies(tag);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (Date.now() < deadline && pids.some(alive)) await sleep(20);
  for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
  return pids;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0); its state in /proc says it is dead.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
