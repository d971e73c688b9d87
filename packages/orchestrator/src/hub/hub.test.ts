import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION } from '@simian/protocol';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AGENT_PATH, Hub } from './hub.js';

const TOKEN = 'test-token-hub';
const silent = pino({ level: 'silent' });

function hello(name: string) {
  return JSON.stringify({
    type: 'hello',
    protocolVersion: PROTOCOL_VERSION,
    agent: { name, zone: 'zone-a', labels: {} },
    capabilities: ['process'],
    activeFaults: [],
  });
}

/** A raw ws client standing in for an agent, so the test can misbehave on purpose. */
class RawAgent {
  readonly socket: WebSocket;
  readonly received: unknown[] = [];
  private waiters: Array<() => void> = [];

  constructor(url: string, token: string | null) {
    this.socket = new WebSocket(url, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
    this.socket.on('message', (data: Buffer) => {
      this.received.push(JSON.parse(data.toString()));
      for (const waiter of this.waiters.splice(0)) waiter();
    });
  }

  async next(count: number): Promise<unknown> {
    for (let i = 0; i < 50 && this.received.length < count; i++) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.received[count - 1];
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
  }

  closed(): Promise<number> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) resolve(-1);
      this.socket.once('close', (code) => resolve(code));
    });
  }
}

describe('Hub', () => {
  let server: Server;
  let hub: Hub;
  let url: string;
  const clients: RawAgent[] = [];

  const connect = (token: string | null = TOKEN): RawAgent => {
    const client = new RawAgent(url, token);
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    hub = new Hub({ token: TOKEN, logger: silent, heartbeatMs: 60_000 });
    server = createServer();
    hub.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}${AGENT_PATH}`;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.socket.terminate();
    await hub.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('refuses a wrong or missing token at the upgrade with 401', async () => {
    for (const token of ['wrong-token', null]) {
      const client = connect(token);
      const status = await new Promise<number | undefined>((resolve) => {
        client.socket.once('unexpected-response', (_req, res) => resolve(res.statusCode));
        client.socket.once('error', () => resolve(undefined));
      });
      expect(status).toBe(401);
    }
    expect(hub.agents()).toEqual([]);
  });

  it('welcomes an agent that says hello and lists it', async () => {
    const client = connect();
    await client.opened();
    client.socket.send(hello('node-1'));
    expect(await client.next(1)).toMatchObject({ type: 'welcome', protocolVersion: PROTOCOL_VERSION });
    expect(hub.agents()).toMatchObject([{ name: 'node-1', zone: 'zone-a', capabilities: ['process'] }]);
  });

  it('answers malformed and oversized frames with an error reply and keeps the session', async () => {
    const client = connect();
    await client.opened();
    client.socket.send(hello('node-2'));
    await client.next(1);
    client.socket.send('{not json');
    expect(await client.next(2)).toMatchObject({ type: 'error', error: { code: 'SIMIAN_BAD_MESSAGE' } });
    client.socket.send(JSON.stringify({ type: 'renewed', id: 'abc', unknown: 7 }));
    expect(await client.next(3)).toEqual({
      type: 'error',
      id: 'abc',
      error: { code: 'SIMIAN_BAD_MESSAGE', message: expect.stringMatching(/^invalid message: unknown: /) },
    });
    client.socket.send(
      JSON.stringify({ type: 'renewed', id: 'big', unknown: ['x'.repeat(MAX_FRAME_BYTES)] }),
    );
    expect(await client.next(4)).toMatchObject({
      type: 'error',
      error: { code: 'SIMIAN_MESSAGE_TOO_LARGE' },
    });
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    expect(hub.agents()).toHaveLength(1);
  });

  it('closes a connection whose first frame is not a valid hello', async () => {
    const client = connect();
    await client.opened();
    const closed = client.closed();
    client.socket.send(JSON.stringify({ type: 'hello', agent: {} }));
    expect(await client.next(1)).toMatchObject({ type: 'error', error: { code: 'SIMIAN_BAD_MESSAGE' } });
    expect(await closed).toBe(4002);
    expect(hub.agents()).toEqual([]);
  });

  it('lets an agent that reconnects with the same name replace its old session', async () => {
    const first = connect();
    await first.opened();
    first.socket.send(hello('node-3'));
    const firstWelcome = (await first.next(1)) as { sessionId: string };
    const firstClosed = first.closed();

    const second = connect();
    await second.opened();
    second.socket.send(hello('node-3'));
    const secondWelcome = (await second.next(1)) as { sessionId: string };

    expect(await firstClosed).toBe(4000);
    expect(secondWelcome.sessionId).not.toBe(firstWelcome.sessionId);
    expect(hub.agents().map((agent) => agent.sessionId)).toEqual([secondWelcome.sessionId]);
  });

  it('turns a failed reply into a rejected request with the agent error', async () => {
    const client = connect();
    await client.opened();
    client.socket.send(hello('node-4'));
    await client.next(1);
    client.socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; id: string };
      if (message.type === 'list-targets') {
        client.socket.send(
          JSON.stringify({
            type: 'failed',
            id: message.id,
            error: { code: 'SIMIAN_DOCKER_UNAVAILABLE', message: 'no engine' },
          }),
        );
      }
    });
    const session = hub.session('node-4');
    await expect(
      session?.request({ type: 'list-targets', driver: 'docker', selector: { labels: {} } }),
    ).rejects.toMatchObject({ code: 'SIMIAN_DOCKER_UNAVAILABLE', message: 'no engine' });
  });

  it('times out a request the agent never answers, with the agent and request named', async () => {
    const client = connect();
    await client.opened();
    client.socket.send(hello('node-5'));
    await client.next(1);
    const session = hub.session('node-5');
    await expect(
      session?.request({ type: 'list-targets', driver: 'process', selector: { labels: {} } }, 300),
    ).rejects.toMatchObject({
      code: 'SIMIAN_AGENT_TIMEOUT',
      message: 'agent node-5 did not answer list-targets within 300ms',
    });
  });
});
