import { EventEmitter } from 'node:events';
import {
  type AgentMessage,
  AUTH_HEADER,
  decodeFrame,
  HARD_MAX_FRAME_BYTES,
  type OrchestratorMessage,
  orchestratorMessageSchema,
} from '@simian/protocol';
import type { Logger } from 'pino';
import WebSocket from 'ws';

export interface LinkOptions {
  url: string;
  token: string;
  logger: Logger;
  /** Builds the hello sent on every (re)connect, so it carries the faults held right now. */
  hello: () => AgentMessage;
  /** @default 250 */
  reconnectMinMs?: number;
  /** @default 5000 */
  reconnectMaxMs?: number;
}

export type LinkState = 'idle' | 'connecting' | 'connected' | 'closed';

interface LinkEvents {
  message: [message: OrchestratorMessage];
  connected: [sessionId: string];
  disconnected: [reason: string];
}

/**
 * The agent's only connection: it dials out (agents never listen), says hello, answers pings,
 * and redials with jittered backoff until closed. A watchdog drops a link that stopped pinging.
 */
export class OrchestratorLink extends EventEmitter<LinkEvents> {
  private socket: WebSocket | undefined;
  private linkState: LinkState = 'idle';
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private watchdogMs = 15_000;

  constructor(private readonly options: LinkOptions) {
    super();
  }

  get state(): LinkState {
    return this.linkState;
  }

  start(): void {
    if (this.linkState !== 'idle') throw new Error(`link already ${this.linkState}`);
    this.dial();
  }

  /** Sends if connected; returns false when the message could not be sent. */
  send(message: AgentMessage): boolean {
    if (this.linkState !== 'connected' || this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  async close(): Promise<void> {
    this.linkState = 'closed';
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close(1000, 'agent stopping');
      setTimeout(() => {
        socket.terminate();
        resolve();
      }, 1_000).unref();
    });
  }

  private dial(): void {
    if (this.linkState === 'closed') return;
    this.linkState = 'connecting';
    const socket = new WebSocket(this.options.url, {
      headers: { [AUTH_HEADER]: `Bearer ${this.options.token}` },
      perMessageDeflate: false,
      maxPayload: HARD_MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    socket.on('open', () => {
      socket.send(JSON.stringify(this.options.hello()));
      this.feedWatchdog();
    });
    socket.on('ping', () => this.feedWatchdog());
    socket.on('message', (data: Buffer) => this.receive(socket, data));
    socket.on('unexpected-response', (_request, response) => {
      const reason =
        response.statusCode === 401 ? 'orchestrator refused our token (401)' : `HTTP ${response.statusCode}`;
      this.options.logger.error(
        { status: response.statusCode },
        `cannot connect to the orchestrator: ${reason}`,
      );
      socket.terminate();
    });
    socket.on('error', (error) => {
      this.options.logger.debug({ err: error.message }, 'link error');
    });
    socket.on('close', (code, reason) => {
      clearTimeout(this.watchdog);
      const wasConnected = this.linkState === 'connected';
      if (this.socket === socket && this.linkState !== 'closed') this.linkState = 'connecting';
      if (wasConnected) this.emit('disconnected', `${code} ${reason.toString()}`.trim());
      this.scheduleRedial();
    });
  }

  private receive(socket: WebSocket, data: Buffer): void {
    const decoded = decodeFrame(orchestratorMessageSchema, data);
    if (!decoded.ok) {
      this.options.logger.warn(
        { code: decoded.error.code, err: decoded.error.message },
        'rejected orchestrator message',
      );
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(
          JSON.stringify({
            type: 'error',
            ...(decoded.id === undefined ? {} : { id: decoded.id }),
            error: decoded.error.toWire(),
          }),
        );
      }
      return;
    }
    const message = decoded.message;
    if (message.type === 'welcome') {
      this.linkState = 'connected';
      this.attempt = 0;
      // Two and a half missed pings: long enough for a GC pause, short enough to notice a dead peer.
      this.watchdogMs = Math.ceil(message.heartbeatMs * 2.5);
      this.feedWatchdog();
      this.emit('connected', message.sessionId);
      return;
    }
    this.emit('message', message);
  }

  private feedWatchdog(): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.options.logger.warn(
        { afterMs: this.watchdogMs },
        'no heartbeat from the orchestrator; reconnecting',
      );
      this.socket?.terminate();
    }, this.watchdogMs);
  }

  private scheduleRedial(): void {
    if (this.linkState === 'closed') return;
    const min = this.options.reconnectMinMs ?? 250;
    const max = this.options.reconnectMaxMs ?? 5_000;
    const delay = Math.min(max, min * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt = Math.min(this.attempt + 1, 16);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.dial(), delay);
  }
}
