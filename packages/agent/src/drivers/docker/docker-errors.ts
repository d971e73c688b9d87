import { type ErrorCode, SimianError } from '@simian/protocol';
import type Docker from 'dockerode';
import { FaultRefusedError } from '../driver.js';

/** What docker-modem rejects with: an HTTP answer (statusCode, json) or a socket error (code). */
interface ModemError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string } | null;
}

/** Where dockerode talks to, for messages: a unix socket, a TCP host, or the default socket. */
export function describeEngine(docker: Docker): string {
  const modem = docker.modem as { socketPath?: unknown; host?: unknown; port?: unknown; protocol?: unknown };
  if (typeof modem.socketPath === 'string') return `unix://${modem.socketPath}`;
  if (typeof modem.host === 'string') {
    const protocol = typeof modem.protocol === 'string' ? modem.protocol : 'http';
    return `${protocol}://${modem.host}${modem.port === undefined ? '' : `:${String(modem.port)}`}`;
  }
  return 'the default Docker socket';
}

export interface DockerErrorContext {
  docker: Docker;
  /** What was being done, e.g. "pause container web-1 (3f2a...)". */
  action: string;
  /** The code for an error the Engine answered with (anything but 404). */
  code: ErrorCode;
  /** The call failed before the Engine changed anything (a refused precondition, not a half-done fault). */
  refused?: boolean;
}

/**
 * Turns a dockerode failure into a coded error: 404 → SIMIAN_TARGET_NOT_FOUND, no HTTP answer
 * (socket refused, missing, not permitted) → SIMIAN_DOCKER_UNAVAILABLE, any other answer → `code`.
 */
export function toDockerError(error: unknown, context: DockerErrorContext): SimianError {
  if (error instanceof SimianError) return error;
  const modemError = (typeof error === 'object' && error !== null ? error : {}) as ModemError;
  const reason = modemError.json?.message ?? modemError.message ?? String(error);
  if (modemError.statusCode === undefined) {
    return new SimianError(
      'SIMIAN_DOCKER_UNAVAILABLE',
      `cannot reach the Docker Engine at ${describeEngine(context.docker)} to ${context.action}: ${reason}`,
      {
        cause: error,
        hint: 'check that dockerd is running and that DOCKER_HOST or the socket permissions let the agent reach it',
      },
    );
  }
  if (modemError.statusCode === 404) {
    return new FaultRefusedError('SIMIAN_TARGET_NOT_FOUND', `cannot ${context.action}: no such container`, {
      cause: error,
    });
  }
  const ErrorClass = context.refused ? FaultRefusedError : SimianError;
  return new ErrorClass(
    context.code,
    `cannot ${context.action}: the Docker Engine answered ${modemError.statusCode}: ${reason}`,
    { cause: error },
  );
}

export function statusCodeOf(error: unknown): number | undefined {
  const code = (error as ModemError | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}
