import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type ActiveFault,
  type AgentMessage,
  type Capability,
  decodeFrame,
  HARD_MAX_FRAME_BYTES,
  helloMessageSchema,
  type MessageOf,
  PROTOCOL_VERSION,
} from '@simian/protocol';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { AgentSession } from './agent-session.js';
import { hasValidToken } from './auth.js';

export const AGENT_PATH = '/v1/agents';

export interface HubOptions {
  token: string;
  logger: Logger;
  /** How often agents are pinged. @default 5000 */
  heartbeatMs?: number;
  /** How long a new connection has to say hello. @default 5000 */
  helloTimeoutMs?: number;
}

export interface AgentInfo {
  name: string;
  zone: string | undefined;
  region: string | undefined;
  labels: Record<string, string>;
  capabilities: Capability[];
  connectedAt: string;
  sessionId: string;
}

interface HubEvents {
  connected: [session: AgentSession, activeFaults: ActiveFault[]];
  disconnected: [session: AgentSession];
  reverted: [session: AgentSession, message: MessageOf<AgentMessage, 'reverted'>];
}

/** The WebSocket hub agents dial into: authorizes on upgrade, keeps one session per agent name. */
export class Hub extends EventEmitter<HubEvents> {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<string, AgentSession>();
  private readonly heartbeatMs: number;
  private readonly helloTimeoutMs: number;

  constructor(private readonly options: HubOptions) {
    super();
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 5_000;
    // permessage-deflate off: it keeps ~245 KB of zlib state per connection for tiny frames.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: HARD_MAX_FRAME_BYTES,
      perMessageDeflate: false,
    });
  }

  attach(server: Server): void {
    server.on('upgrade', (request, socket, head) => this.upgrade(request, socket, head));
  }

  agents(): AgentInfo[] {
    return [...this.sessions.values()].map((session) => ({
      name: session.name,
      zone: session.identity.zone,
      region: session.identity.region,
      labels: session.identity.labels,
      capabilities: [...session.capabilities],
      connectedAt: new Date(session.connectedAt).toISOString(),
      sessionId: session.sessionId,
    }));
  }

  session(name: string): AgentSession | undefined {
    return this.sessions.get(name);
  }

  sessionsWith(capability: Capability): AgentSession[] {
    return [...this.sessions.values()].filter((session) => session.capabilities.includes(capability));
  }

  /** Resolves once an agent with this name (or any agent) is connected, or rejects after the timeout. */
  waitForAgent(name: string | undefined, timeoutMs: number): Promise<AgentSession> {
    const existing = name === undefined ? this.sessions.values().next().value : this.sessions.get(name);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(
          new Error(`no agent${name === undefined ? '' : ` named ${name}`} connected within ${timeoutMs}ms`),
        );
      }, timeoutMs);
      const onConnected = (session: AgentSession): void => {
        if (name !== undefined && session.name !== name) return;
        clearTimeout(timer);
        this.off('connected', onConnected);
        resolve(session);
      };
      this.on('connected', onConnected);
    });
  }

  async close(): Promise<void> {
    for (const session of this.sessions.values()) session.close(1001, 'orchestrator shutting down');
    this.sessions.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== AGENT_PATH) {
      rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (!hasValidToken(request, this.options.token)) {
      this.options.logger.warn(
        { remote: request.socket.remoteAddress },
        'agent connection refused: missing or wrong token',
      );
      rejectUpgrade(socket, 401, 'Unauthorized');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.awaitHello(ws, request));
  }

  private awaitHello(ws: WebSocket, request: IncomingMessage): void {
    const logger = this.options.logger;
    const timer = setTimeout(() => {
      logger.warn({ remote: request.socket.remoteAddress }, 'agent did not say hello in time');
      ws.close(4001, 'hello timeout');
    }, this.helloTimeoutMs);
    ws.once('message', (data: Buffer) => {
      clearTimeout(timer);
      const decoded = decodeFrame(helloMessageSchema, data);
      if (!decoded.ok) {
        logger.warn({ err: decoded.error.message }, 'rejected agent hello');
        ws.send(JSON.stringify({ type: 'error', error: decoded.error.toWire() }));
        ws.close(4002, 'bad hello');
        return;
      }
      const hello = decoded.message;
      if (hello.protocolVersion !== PROTOCOL_VERSION) {
        const message = `agent ${hello.agent.name} speaks protocol ${hello.protocolVersion}, orchestrator speaks ${PROTOCOL_VERSION}`;
        logger.warn(message);
        ws.send(JSON.stringify({ type: 'error', error: { code: 'SIMIAN_PROTOCOL_MISMATCH', message } }));
        ws.close(4003, 'protocol mismatch');
        return;
      }
      this.register(ws, hello);
    });
  }

  private register(ws: WebSocket, hello: MessageOf<AgentMessage, 'hello'>): void {
    const name = hello.agent.name;
    const logger = this.options.logger.child({ agent: name });
    const previous = this.sessions.get(name);
    const session = new AgentSession(ws, hello.agent, hello.capabilities, logger, (from, message) =>
      this.unsolicited(from, message),
    );
    // The same identity reconnecting wins: its old socket is probably half-dead.
    if (previous) {
      logger.info({ previous: previous.sessionId }, 'agent reconnected; replacing its previous session');
      previous.close(4000, 'replaced by a new session');
    }
    this.sessions.set(name, session);
    session.onClose((closed) => {
      if (this.sessions.get(name) === closed) this.sessions.delete(name);
      logger.info({ session: closed.sessionId }, 'agent disconnected');
      this.emit('disconnected', closed);
    });
    session.send({
      type: 'welcome',
      protocolVersion: PROTOCOL_VERSION,
      sessionId: session.sessionId,
      heartbeatMs: this.heartbeatMs,
    });
    session.startHeartbeat(this.heartbeatMs);
    logger.info(
      {
        session: session.sessionId,
        zone: hello.agent.zone,
        capabilities: hello.capabilities,
        activeFaults: hello.activeFaults.length,
      },
      'agent connected',
    );
    this.emit('connected', session, hello.activeFaults);
  }

  private unsolicited(session: AgentSession, message: AgentMessage): void {
    if (message.type === 'reverted') {
      this.emit('reverted', session, message);
      return;
    }
    if (message.type === 'error') {
      this.options.logger.warn(
        { agent: session.name, code: message.error.code, err: message.error.message },
        'agent reported an error',
      );
      return;
    }
    this.options.logger.warn({ agent: session.name, type: message.type }, 'unexpected message from agent');
  }
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
