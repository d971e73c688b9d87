import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { hasErrorCode } from '../driver.js';

/** The environment variable a process declares its labels in: `key=value,key2=value2`. */
export const LABELS_ENV = 'SIMIAN_LABELS';
/** A process label that names the target; without it the name is `<comm>[<pid>]`. */
export const NAME_LABEL = 'simian.dev/name';

const PROC = '/proc';
/** Errors that mean "this process is gone or not ours to read": skip it, do not fail. */
const UNREADABLE = ['ENOENT', 'ESRCH', 'EACCES', 'EPERM', 'EINVAL'];

export interface ProcStat {
  pid: number;
  comm: string;
  /** One letter: R, S, D, T (stopped), t (traced), Z (zombie), ... */
  state: string;
  /** Field 22 of /proc/<pid>/stat, in clock ticks since boot; with the pid it names one process. */
  startTime: string;
}

/** Fields of /proc/<pid>/stat; `comm` is in parentheses and may itself contain spaces and ')'. */
export function parseProcStat(pid: number, text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`unexpected /proc/${pid}/stat: ${JSON.stringify(text)}`);
  // After ") " come the fields from 3 (state) on, so field N is at index N - 3.
  const rest = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const state = rest[0];
  const startTime = rest[22 - 3];
  if (state === undefined || startTime === undefined) {
    throw new Error(`unexpected /proc/${pid}/stat: ${JSON.stringify(text)}`);
  }
  return { pid, comm: text.slice(open + 1, close), state, startTime };
}

// procfs files are generated in memory: a synchronous read (~12 µs) never waits on a disk and
// beats the thread-pool round trip of fs/promises (~150 µs) on the inject path.

/** The process's stat, or undefined when there is no such process. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = readFileSync(`${PROC}/${pid}/stat`, 'utf8');
  } catch (error) {
    if (hasErrorCode(error, ...UNREADABLE)) return undefined;
    throw error;
  }
  return parseProcStat(pid, text);
}

/** `key=value,key2=value2` (spaces around parts ignored; a value may contain '='). */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    if (key === '') continue;
    labels[key] = part.slice(eq + 1).trim();
  }
  return labels;
}

/**
 * The labels in the process's SIMIAN_LABELS, or undefined when it has none or its environment
 * cannot be read (another user's process, a kernel thread, a zombie, or gone).
 */
export async function readProcessLabels(pid: number): Promise<Record<string, string> | undefined> {
  let environ: Buffer;
  try {
    environ = readFileSync(`${PROC}/${pid}/environ`);
  } catch (error) {
    if (hasErrorCode(error, ...UNREADABLE)) return undefined;
    throw error;
  }
  const prefix = `${LABELS_ENV}=`;
  for (const entry of environ.toString('utf8').split('\0')) {
    if (entry.startsWith(prefix)) return parseLabels(entry.slice(prefix.length));
  }
  return undefined;
}

/** Every pid in /proc (thread-group leaders only: threads are not listed there). */
export async function listPids(): Promise<number[]> {
  const names = await readdir(PROC);
  const pids: number[] = [];
  for (const name of names) {
    if (/^\d+$/.test(name)) pids.push(Number(name));
  }
  return pids;
}

export function formatProcessId(pid: number, startTime: string): string {
  return `${pid}:${startTime}`;
}

/** `<pid>:<starttime>`, or undefined when the id is not of that shape. */
export function parseProcessId(id: string): { pid: number; startTime: string } | undefined {
  const match = /^(\d+):(\d+)$/.exec(id);
  if (!match?.[1] || !match[2]) return undefined;
  const pid = Number(match[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, startTime: match[2] };
}
