import { spawn } from 'node:child_process';
import { durationMs } from '@simian/protocol';
import type { Probe } from '../experiments/schema.js';
import type { ProbeAttempt } from './probe-sample.js';

export type CommandProbeSpec = NonNullable<Probe['command']>;

/** Bytes of stderr kept to find its last line. */
const STDERR_TAIL_BYTES = 4096;
/** Longest stderr line quoted in an error message. */
const MAX_LINE = 200;

/**
 * Runs `spec.run` with `/bin/sh -c` in its own process group; success is exit code 0. On timeout
 * or abort the whole group is killed, so nothing the command started outlives the attempt.
 * Resolves with a failed attempt for anything the command does wrong.
 */
export function runCommandProbe(spec: CommandProbeSpec, signal?: AbortSignal): Promise<ProbeAttempt> {
  const timeoutMs = durationMs(spec.timeout);
  const at = Date.now();
  const started = performance.now();
  if (signal?.aborted) return Promise.resolve({ at, latencyMs: 0, ok: false, error: 'aborted' });

  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', spec.run], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = Buffer.alloc(0);
    let cutShort: 'timeout' | 'aborted' | undefined;
    let spawnError: Error | undefined;
    let settled = false;

    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const cut = (why: 'timeout' | 'aborted') => {
      cutShort ??= why;
      killGroup();
    };
    const timer = setTimeout(() => cut('timeout'), timeoutMs);
    const onAbort = () => cut('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stderr.on('data', (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
    });
    // Background children of the shell keep stderr open and would hold 'close' back; the probe
    // is over once the shell is, so they go with it.
    child.on('exit', killGroup);
    child.on('error', (error) => {
      spawnError = error;
      finish(null, null);
    });
    child.on('close', (code, signalName) => finish(code, signalName));

    function finish(code: number | null, signalName: NodeJS.Signals | null): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const latencyMs = performance.now() - started;
      if (code === 0 && cutShort === undefined && spawnError === undefined) {
        resolve({ at, latencyMs, ok: true });
        return;
      }
      resolve({ at, latencyMs, ok: false, error: describeFailure(code, signalName) });
    }

    function describeFailure(code: number | null, signalName: NodeJS.Signals | null): string {
      if (cutShort === 'aborted') return 'aborted';
      if (cutShort === 'timeout') return `timed out after ${spec.timeout}`;
      if (spawnError) return `could not start /bin/sh: ${spawnError.message}`;
      const what = code !== null ? `exit code ${code}` : `killed by ${signalName ?? 'a signal'}`;
      const line = lastLine(stderr.toString('utf8'));
      return line ? `${what}: ${line}` : what;
    }
  });
}

function lastLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const last = lines.at(-1)?.trim();
  if (last === undefined) return undefined;
  return last.length > MAX_LINE ? `${last.slice(0, MAX_LINE)}…` : last;
}
