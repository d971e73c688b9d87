/**
 * Every error a user can meet has a stable code listed here and in docs/errors.md
 * (a test keeps the two in sync). Programmer errors stay plain `Error`.
 */
export const errorCodes = {
  SIMIAN_USAGE: 'The command line is wrong: unknown flag, missing argument or bad value.',
  SIMIAN_FILE_NOT_FOUND: 'A file or directory named on the command line does not exist or cannot be read.',
  SIMIAN_INVALID_EXPERIMENT: 'An experiment file is not valid YAML or does not match the schema.',
  SIMIAN_INVALID_GAMEDAY:
    'A game-day file, or an experiment it names, is not valid YAML or does not match the schema.',
  SIMIAN_APPROVAL_REQUIRED:
    'A game day has approval steps, but nobody can answer them: stdin is not a terminal and --yes was not given.',
  SIMIAN_NO_TOKEN: 'No shared token was given (SIMIAN_TOKEN or --token-file) where one is required.',
  SIMIAN_UNAUTHORIZED: 'The orchestrator refused the token, or a client sent none.',
  SIMIAN_ORCHESTRATOR_UNREACHABLE: 'The orchestrator URL could not be reached.',
  SIMIAN_NO_AGENTS: 'No connected agent offers the driver the experiment needs.',
  SIMIAN_NO_TARGETS: 'The selector matched no target (after protected targets were left out).',
  SIMIAN_PARTITION_NO_ADDRESSES:
    'Targets on the other side of a partition report no IPv4 address, so traffic to them cannot be cut off.',
  SIMIAN_PARTITION_OVERLAP: 'A target would be on both sides of a partition.',
  SIMIAN_TARGET_NOT_FOUND: 'A target chosen for a fault no longer exists on its agent.',
  SIMIAN_TARGET_PROTECTED: 'A fault was refused because the target carries simian.dev/protected=true.',
  SIMIAN_FAULT_UNSUPPORTED: 'The driver cannot apply this fault type.',
  SIMIAN_INJECT_FAILED: 'The agent could not apply a fault; nothing of it stays applied.',
  SIMIAN_FAULT_NOT_IN_EFFECT:
    'A fault was applied but the check that it took effect failed; it was undone and the run fails.',
  SIMIAN_REVERT_FAILED: 'The agent could not revert a fault; it stays in the ledger and is retried.',
  SIMIAN_AGENT_TIMEOUT: 'An agent did not answer a request in time.',
  SIMIAN_AGENT_LOST: 'An agent disconnected while it held work for a run.',
  SIMIAN_DOCKER_UNAVAILABLE: 'The Docker Engine could not be reached by the agent.',
  SIMIAN_BAD_MESSAGE: 'A protocol message was not JSON or did not match the message schema.',
  SIMIAN_MESSAGE_TOO_LARGE: 'A protocol message was larger than the frame limit.',
  SIMIAN_PROTOCOL_MISMATCH: 'Agent and orchestrator speak different protocol versions.',
  SIMIAN_LEDGER_CORRUPT: "The agent's fault ledger could not be read; the agent refuses to start blind.",
  SIMIAN_RUN_CANCELLED: 'The run was halted by the operator (Ctrl-C or SIGTERM).',
  SIMIAN_LISTEN_FAILED: 'The orchestrator could not listen on the requested address.',
  SIMIAN_RUN_NOT_FOUND: 'No run with this id is in the run history.',
  SIMIAN_HISTORY_UNAVAILABLE: 'The run history database could not be opened, read or written.',
  SIMIAN_INTERNAL: 'A bug in simian: the message says what failed; please report it with --debug output.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface SimianErrorOptions {
  hint?: string;
  cause?: unknown;
}

/** A failure a user can meet and act on: a stable code, a message naming the thing, a hint. */
export class SimianError extends Error {
  override readonly name = 'SimianError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: SimianErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** How errors cross the wire. */
export interface WireError {
  code: string;
  message: string;
}

export function isSimianError(error: unknown): error is SimianError {
  return error instanceof SimianError;
}

/** Converts anything thrown into a wire error without leaking stacks. */
export function toWireError(error: unknown): WireError {
  if (error instanceof SimianError) return error.toWire();
  if (error instanceof Error) return { code: 'SIMIAN_INTERNAL', message: error.message };
  return { code: 'SIMIAN_INTERNAL', message: String(error) };
}

/** Rebuilds a SimianError from the wire; unknown codes keep their text in the message. */
export function fromWireError(wire: WireError): SimianError {
  const code = (wire.code in errorCodes ? wire.code : 'SIMIAN_INJECT_FAILED') as ErrorCode;
  return new SimianError(code, wire.message);
}
