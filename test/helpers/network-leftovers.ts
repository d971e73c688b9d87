// Checks that network faults left nothing behind: no simian nft table (on the host or in a
// container's network namespace), no fault proxy process, no qdisc beyond the kernel's defaults,
// and no test container.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { TABLE_PREFIX } from '../../packages/agent/src/network/fault-tag.js';
import { containerState, DockerCommandError } from './docker-fixtures.js';
import { assertNoLeftovers } from './leftovers.js';

/** The file every fault proxy runs from; its argv carries `--fault <tag>`. */
const PROXY_ENTRY = 'fault-proxy-main.js';

/** A network namespace to look into: a process inside it, or the host's own namespace when absent. */
export interface NamespaceRef {
  /** A process in the namespace (e.g. a container's main pid); absent for the host's namespace. */
  pid?: number;
  /** For messages, e.g. `container 3f2a…` or `the host`. */
  what: string;
}

function exec(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: 10_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** argv that runs `command` in the namespace (`nsenter -t PID -n`), or directly on the host. */
function inNamespace(ns: NamespaceRef, command: string, args: readonly string[]): [string, string[]] {
  return ns.pid === undefined
    ? [command, [...args]]
    : ['nsenter', ['-t', String(ns.pid), '-n', '--', command, ...args]];
}

/** Runs a command in the namespace and resolves with its stdout. */
export function runInNamespace(ns: NamespaceRef, command: string, args: readonly string[]): Promise<string> {
  const [file, argv] = inNamespace(ns, command, args);
  return exec(file, argv);
}

/**
 * Names of the `inet`/`ip`/… tables whose name starts with `simian_` in the namespace (`nft list
 * tables`), each as `family name`. With `tags`, only tables named by one of them.
 */
export async function simianTables(ns: NamespaceRef, tags?: readonly string[]): Promise<string[]> {
  const out = await runInNamespace(ns, 'nft', ['list', 'tables']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === 'table' && (words[2] ?? '').startsWith(TABLE_PREFIX))
    .filter((words) => tags === undefined || tags.includes(words[2] ?? ''))
    .map((words) => `${words[1]} ${words[2]}`);
}

/** Pids of running fault proxies (a cmdline containing `fault-proxy-main.js`); with `tags`, only theirs. */
export function faultProxyPids(tags?: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      // A zombie still has its pid but no longer runs: it holds no port and no rule.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))) continue;
    } catch {
      continue;
    }
    if (!argv.some((arg) => arg.endsWith(PROXY_ENTRY))) continue;
    const at = argv.indexOf('--fault');
    const tag = at >= 0 ? argv[at + 1] : undefined;
    if (tags === undefined || (tag !== undefined && tags.includes(tag))) pids.push(Number(entry));
  }
  return pids;
}

/**
 * The qdiscs on `dev` in the namespace that the kernel did not put there itself (`tc qdisc show`):
 * the defaults it attaches (noqueue, pfifo_fast, mq, fq_codel, fq, …) carry handle `0:`, while
 * anything added with `tc` gets a handle of its own (e.g. `8001:`), as do ingress and clsact.
 */
export async function extraQdiscs(ns: NamespaceRef, dev = 'eth0'): Promise<string[]> {
  const out = await runInNamespace(ns, 'tc', ['qdisc', 'show', 'dev', dev]);
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('qdisc '))
    .filter((line) => line.split(/\s+/)[2] !== '0:');
}

export interface NetworkLeftoverCheck {
  /**
   * Containers whose namespaces must hold no simian table and no extra qdisc on eth0. A container
   * that no longer runs is skipped: its namespace went with it.
   */
  containers?: readonly string[];
  /**
   * Fault tags (`faultTag(faultId)`) the test used. With them, only their tables on the host and
   * their proxies count, so that tests of other files running at the same time do not fail this
   * one; without them, every `simian_` table on the host and every fault proxy does.
   */
  tags?: readonly string[];
  /** Whether to look at the host's own namespace too. @default true */
  host?: boolean;
  /** A container label no container may carry any more (see `assertNoLeftovers`). */
  containerLabel?: string;
  /**
   * How long to wait for things on their way out (a proxy that got SIGTERM) before reporting.
   * @default 2000
   */
  graceMs?: number;
}

interface Found {
  tables: { ns: NamespaceRef; table: string }[];
  qdiscs: { ns: NamespaceRef; dev: string; line: string }[];
  proxies: number[];
}

/** A running container's namespace, or undefined when it is stopped or gone. */
async function namespaceOf(id: string): Promise<NamespaceRef | undefined> {
  try {
    const state = await containerState(id);
    if (!state.running || state.pid <= 0) return undefined;
    return { pid: state.pid, what: `container ${id.slice(0, 12)}` };
  } catch (error) {
    if (error instanceof DockerCommandError && /no such (container|object)/i.test(error.stderr))
      return undefined;
    throw error;
  }
}

async function look(check: NetworkLeftoverCheck): Promise<Found> {
  const found: Found = { tables: [], qdiscs: [], proxies: faultProxyPids(check.tags) };
  const spaces: { ns: NamespaceRef; tags?: readonly string[]; qdiscs: boolean }[] = [];
  if (check.host !== false)
    spaces.push({ ns: { what: 'the host' }, ...(check.tags ? { tags: check.tags } : {}), qdiscs: false });
  for (const id of check.containers ?? []) {
    const ns = await namespaceOf(id);
    // The test owns these namespaces: any simian table in them is its own.
    if (ns) spaces.push({ ns, qdiscs: true });
  }
  for (const space of spaces) {
    for (const table of await simianTables(space.ns, space.tags)) found.tables.push({ ns: space.ns, table });
    if (space.qdiscs)
      for (const line of await extraQdiscs(space.ns)) found.qdiscs.push({ ns: space.ns, dev: 'eth0', line });
  }
  return found;
}

function isEmpty(found: Found): boolean {
  return found.tables.length === 0 && found.qdiscs.length === 0 && found.proxies.length === 0;
}

/**
 * Throws when a network fault left something behind (see {@link NetworkLeftoverCheck}), after
 * waiting up to `graceMs` for it to go. What it reports it also removes (tables deleted, qdiscs
 * deleted, proxies SIGKILLed, containers removed) so that one leaky test does not break the next.
 */
export async function assertNoNetworkLeftovers(check: NetworkLeftoverCheck = {}): Promise<void> {
  const deadline = Date.now() + (check.graceMs ?? 2_000);
  let found = await look(check);
  while (!isEmpty(found) && Date.now() < deadline) {
    await sleep(100);
    found = await look(check);
  }
  const problems: string[] = [];
  for (const { ns, table } of found.tables) {
    problems.push(`nft table ${table} in ${ns.what}`);
    await runInNamespace(ns, 'nft', ['delete', 'table', ...table.split(' ')]).catch(() => undefined);
  }
  for (const { ns, dev, line } of found.qdiscs) {
    problems.push(`qdisc on ${dev} in ${ns.what}: ${line}`);
    // Deleting the root qdisc puts the kernel's default back.
    await runInNamespace(ns, 'tc', ['qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined);
    await runInNamespace(ns, 'tc', ['qdisc', 'del', 'dev', dev, 'ingress']).catch(() => undefined);
  }
  for (const pid of found.proxies) {
    let argv = '';
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 160);
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone in the meantime.
    }
    problems.push(`fault proxy pid ${pid} still running: ${argv}`);
  }
  let containerProblem: unknown;
  if (check.containerLabel !== undefined) {
    try {
      await assertNoLeftovers({ containerLabel: check.containerLabel, graceMs: check.graceMs ?? 2_000 });
    } catch (error) {
      containerProblem = error;
    }
  }
  if (containerProblem instanceof Error) problems.push(containerProblem.message);
  if (problems.length > 0)
    throw new Error(`network fault left resources behind (now cleaned up):\n  ${problems.join('\n  ')}`);
}
