import { type ChildProcess, execFile, spawn } from 'node:child_process';

/**
 * A network namespace faults act in: a container's (entered with `nsenter -t PID -n`) or the
 * agent's own (the process driver's targets share the host's network).
 */
export interface NetworkNamespace {
  /** A process inside the namespace; absent for the agent's own namespace. */
  pid?: number;
  /** For messages: "container web-1 (3f2a..)" or "the host". */
  what: string;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** A command that failed in a namespace, with what it printed (nft names the line it refused). */
export class NamespaceCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${command} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || 'no output'}`);
  }
}

/** argv that runs `command` in the namespace, optionally as another user (nsenter drops to it). */
export function inNamespace(
  ns: NetworkNamespace,
  command: string,
  args: readonly string[],
  user?: { uid: number; gid: number },
): [string, string[]] {
  if (ns.pid === undefined) return [command, [...args]];
  const as = user ? ['-S', String(user.uid), '-G', String(user.gid)] : [];
  return ['nsenter', ['-t', String(ns.pid), '-n', ...as, '--', command, ...args]];
}

/** Runs a short command in the namespace (nft, ip), feeding `input` on stdin. Bounded by `timeoutMs`. */
export function runInNamespace(
  ns: NetworkNamespace,
  command: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 10_000,
): Promise<CommandResult> {
  const [file, argv] = inNamespace(ns, command, args);
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      argv,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const code = typeof error.code === 'number' ? error.code : null;
          reject(
            (error as NodeJS.ErrnoException).code === 'ENOENT'
              ? new NamespaceCommandError(file, `${file} is not installed on the agent's host`, null)
              : new NamespaceCommandError(`${command} ${args.join(' ')}`.trim(), stderr, code),
          );
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    // The command may exit before reading its input (nft refusing its arguments): an EPIPE then
    // is its exit status's business, not a crash of the agent.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

/** Starts a long-running process in the namespace; the caller owns it. */
export function spawnInNamespace(
  ns: NetworkNamespace,
  command: string,
  args: readonly string[],
  user?: { uid: number; gid: number },
): ChildProcess {
  const [file, argv] = inNamespace(ns, command, args, user);
  // Outside a namespace spawn drops privileges itself; nsenter does it after entering.
  const drop = ns.pid === undefined && user ? { uid: user.uid, gid: user.gid } : {};
  return spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], ...drop });
}
