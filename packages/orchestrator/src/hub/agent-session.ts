import { randomUUID } from 'node:crypto';
import {
  type AgentIdentity,
  type AgentMessage,
  agentMessageSchema,
  type Capability,
  decodeFrame,
  fromWireError,
  type MessageOf,
  type OrchestratorMessage,
  SimianError,
} from '@simian/protocol';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';

type Request = Exclude<OrchestratorMessage, { type: 'welcome' | 'error' }>;
/** A request before the session gives it an id (Omit distributed over the union). */
export type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

const EXPECTED_REPLY = {
  'list-targets': 'targets',
  inject: 'injected',
  renew: 'renewed',
  revert: 'reverted',
} as const;
type ReplyFor<T extends Request['type']> = MessageOf<AgentMessage, (typeof EXPECTED_REPLY)[T]>;

interface Pending {
  expect: string;
  resolve: (message: AgentMessage) => void;
  reject: (error: Error) => void;
  type: string;
  deadline: number;
  timeoutMs: number;
}

/** How often overdue requests are looked for; one sweeper per session instead of a timer per request. */
const SWEEP_MS = 100;

export type SessionState = 'open' | 'closed';

/** One connected agent: request/reply over the socket, heartbeat, and a clean end. */
export class AgentSession {
  readonly sessionId = randomUUID();
  readonly connectedAt = Date.now();
  private readonly pending = new Map<string, Pending>();
  private requestCounter = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private alive = true;
  private heartbeat: NodeJS.Timeout | undefined;
  private closedState = false;
  private readonly closeListeners: Array<(session: AgentSession) => void> = [];

  constructor(
    private readonly socket: WebSocket,
    readonly identity: AgentIdentity,
    readonly capabilities: readonly Capability[],
    private readonly logger: Logger,
    private readonly onUnsolicited: (session: AgentSession, message: AgentMessage) => void,
  ) {
    socket.on('message', (data: Buffer) => this.receive(data));
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', () =>
      this.closed(new SimianError('SIMIAN_AGENT_LOST', `agent ${identity.name} disconnected`)),
    );
    socket.on('error', (error) => this.logger.warn({ err: error.message }, 'agent socket error'));
  }

  get state(): SessionState {
    return this.closedState ? 'closed' : 'open';
  }

  get name(): string {
    return this.identity.name;
  }

  onClose(listener: (session: AgentSession) => void): void {
    this.closeListeners.push(listener);
  }

  /** Pings every `intervalMs`; a peer that missed the previous pong is cut off. */
  startHeartbeat(intervalMs: number): void {
    this.heartbeat = setInterval(() => {
      if (!this.alive) {
        this.logger.warn({ agent: this.name }, 'agent missed a heartbeat; dropping its session');
        this.socket.terminate();
        return;
      }
      this.alive = false;
      this.socket.ping();
    }, intervalMs);
    this.heartbeat.unref();
  }

  send(message: OrchestratorMessage): void {
    if (this.closedState) throw new SimianError('SIMIAN_AGENT_LOST', `agent ${this.name} is not connected`);
    this.socket.send(JSON.stringify(message));
  }

  /** Sends a request and resolves with its typed reply; a `failed` reply rejects with its error. */
  request<R extends RequestBody>(message: R, timeoutMs = 15_000): Promise<ReplyFor<R['type']>> {
    // Unique within the session is enough: replies are matched per socket.
    const id = `${++this.requestCounter}`;
    const full = { ...message, id } as unknown as Request;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        expect: EXPECTED_REPLY[full.type],
        resolve: resolve as (message: AgentMessage) => void,
        reject,
        type: full.type,
        deadline: Date.now() + timeoutMs,
        timeoutMs,
      });
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
      try {
        this.send(full);
      } catch (error) {
        this.pending.delete(id);
        reject(error as Error);
      }
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, pending] of this.pending) {
      if (pending.deadline > now) continue;
      this.pending.delete(id);
      pending.reject(
        new SimianError(
          'SIMIAN_AGENT_TIMEOUT',
          `agent ${this.name} did not answer ${pending.type} within ${pending.timeoutMs}ms`,
        ),
      );
    }
    if (this.pending.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  close(code = 1000, reason = 'closing'): void {
    this.socket.close(code, reason);
    this.closed(new SimianError('SIMIAN_AGENT_LOST', `agent ${this.name} session closed: ${reason}`));
  }

  private receive(data: Buffer): void {
    const decoded = decodeFrame(agentMessageSchema, data);
    if (!decoded.ok) {
      this.logger.warn(
        { agent: this.name, code: decoded.error.code, err: decoded.error.message },
        'rejected agent message',
      );
      this.safeSend({
        type: 'error',
        ...(decoded.id === undefined ? {} : { id: decoded.id }),
        error: decoded.error.toWire(),
      });
      return;
    }
    const message = decoded.message;
    const id = 'id' in message ? message.id : undefined;
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (id !== undefined && pending) {
      this.pending.delete(id);
      if (message.type === 'failed' || message.type === 'error') pending.reject(fromWireError(message.error));
      else if (message.type !== pending.expect) {
        pending.reject(
          new SimianError(
            'SIMIAN_BAD_MESSAGE',
            `agent ${this.name} answered with ${message.type}, expected ${pending.expect}`,
          ),
        );
      } else pending.resolve(message);
      return;
    }
    this.onUnsolicited(this, message);
  }

  private safeSend(message: OrchestratorMessage): void {
    if (!this.closedState) this.socket.send(JSON.stringify(message));
  }

  private closed(reason: Error): void {
    if (this.closedState) return;
    this.closedState = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.stopSweeper();
    for (const pending of this.pending.values()) pending.reject(reason);
    this.pending.clear();
    for (const listener of this.closeListeners) listener(this);
  }
}
