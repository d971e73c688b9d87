import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Agent } from '@simian/agent';
import { OrchestratorServer } from '@simian/orchestrator';
import { PROTOCOL_VERSION, type Target } from '@simian/protocol';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { processState, spawnLabelledSleeper } from '../helpers/processes.js';
import { eventually } from '../helpers/wait.js';

const TOKEN = `tok-${randomUUID()}`;

/** pino writing into an array, so a test can read every log line of both ends. */
function capturedLogger(lines: string[]) {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return pino({ level: 'debug' }, stream);
}

describe('agent and orchestrator over a real WebSocket', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(options: { agentToken?: string; heartbeatMs?: number } = {}) {
    const logs: string[] = [];
    const logger = capturedLogger(logs);
    const dir = await mkdtemp(join(tmpdir(), 'simian-agent-hub-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const server = new OrchestratorServer({
      port: 0,
      token: TOKEN,
      logger,
      heartbeatMs: options.heartbeatMs ?? 5_000,
    });
    const { agentUrl } = await server.listen();
    cleanups.push(() => server.close());
    const agent = new Agent({
      orchestratorUrl: agentUrl,
      token: options.agentToken ?? TOKEN,
      identity: { name: 'it-agent', zone: 'zone-a', labels: {} },
      ledgerPath: join(dir, 'ledger.json'),
      logger,
      capabilities: ['process'],
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    return { server, agent, logs, dir };
  }

  async function sleeper(label: string): Promise<ChildProcess & { pid: number }> {
    const child = await spawnLabelledSleeper({ it: label }, 600);
    cleanups.push(() => {
      try {
        process.kill(child.pid, 'SIGCONT');
      } catch {}
      child.kill('SIGKILL');
    });
    return child;
  }

  async function targetFor(server: OrchestratorServer, label: string): Promise<Target> {
    const session = await server.hub.waitForAgent('it-agent', 5_000);
    const reply = await session.request({
      type: 'list-targets',
      driver: 'process',
      selector: { labels: { it: label } },
    });
    expect(reply.targets).toHaveLength(1);
    return reply.targets[0] as Target;
  }

  it('connects, and a wrong token is refused at the upgrade and never logged', async () => {
    const { server, agent, logs } = await start({ agentToken: 'not-the-token-xyz' });
    expect(await eventually(() => logs.some((line) => line.includes('missing or wrong token')), 5_000)).toBe(
      true,
    );
    expect(agent.connected).toBe(false);
    expect(server.hub.agents()).toEqual([]);
    expect(logs.some((line) => line.includes('orchestrator refused our token (401)'))).toBe(true);
    for (const line of logs) {
      expect(line).not.toContain('not-the-token-xyz');
      expect(line).not.toContain(TOKEN);
    }
  });

  it('reverts a paused process by itself when the lease is not renewed', async () => {
    const { server } = await start();
    const label = randomUUID();
    const child = await sleeper(label);
    const target = await targetFor(server, label);
    const session = await server.hub.waitForAgent('it-agent', 5_000);
    const autoReverted = new Promise<{ reason: string; faultId: string }>((resolve) =>
      server.hub.once('reverted', (_session, message) => resolve(message)),
    );
    await session.request({
      type: 'inject',
      runId: 'run-lease',
      faultId: 'f-lease',
      target,
      fault: { type: 'pause' },
      leaseMs: 500,
    });
    expect(await processState(child.pid as number)).toBe('T');
    expect(await autoReverted).toMatchObject({ faultId: 'f-lease', reason: 'lease-expired' });
    expect(await processState(child.pid as number)).not.toBe('T');
  });

  it('keeps a fault while its lease is renewed, and reverts it on request', async () => {
    const { server } = await start();
    const label = randomUUID();
    const child = await sleeper(label);
    const target = await targetFor(server, label);
    const session = await server.hub.waitForAgent('it-agent', 5_000);
    await session.request({
      type: 'inject',
      runId: 'run-renew',
      faultId: 'f-renew',
      target,
      fault: { type: 'pause' },
      leaseMs: 400,
    });
    for (let i = 0; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const renewed = await session.request({
        type: 'renew',
        faultIds: ['f-renew', 'f-unknown'],
        leaseMs: 400,
      });
      expect(renewed.unknown).toEqual(['f-unknown']);
    }
    expect(await processState(child.pid as number)).toBe('T');
    const reverted = await session.request({ type: 'revert', runId: 'run-renew', faultId: 'f-renew' });
    expect(reverted).toMatchObject({ outcome: 'reverted', reason: 'requested' });
    expect(await processState(child.pid as number)).not.toBe('T');
  });

  it('reconnects after the link drops and reports the faults it still holds', async () => {
    const { server } = await start();
    const label = randomUUID();
    const child = await sleeper(label);
    const target = await targetFor(server, label);
    const first = await server.hub.waitForAgent('it-agent', 5_000);
    await first.request({
      type: 'inject',
      runId: 'run-flap',
      faultId: 'f-flap',
      target,
      fault: { type: 'pause' },
      leaseMs: 10_000,
    });
    const reconnected = new Promise<string[]>((resolve) =>
      server.hub.once('connected', (_session, active) => resolve(active.map((fault) => fault.faultId))),
    );
    first.close(4999, 'test drops the link');
    expect(await reconnected).toEqual(['f-flap']);
    const second = await server.hub.waitForAgent('it-agent', 5_000);
    expect(second.sessionId).not.toBe(first.sessionId);
    await second.request({ type: 'revert', runId: 'run-flap', faultId: 'f-flap' });
    expect(await processState(child.pid as number)).not.toBe('T');
  });

  it('answers a malformed command with an error reply and keeps serving', async () => {
    // A bare ws server stands in for a broken orchestrator: it sends garbage after the welcome.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const replies: unknown[] = [];
    wss.on('connection', (socket) => {
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string };
        if (message.type === 'hello') {
          socket.send(
            JSON.stringify({
              type: 'welcome',
              protocolVersion: PROTOCOL_VERSION,
              sessionId: 's1',
              heartbeatMs: 60_000,
            }),
          );
          socket.send('{this is not json');
          socket.send(
            JSON.stringify({
              type: 'inject',
              id: 'bad-1',
              runId: 'r',
              faultId: 'f',
              target: {},
              fault: { type: 'pause' },
              leaseMs: 1,
            }),
          );
          socket.send(
            JSON.stringify({
              type: 'list-targets',
              id: 'good-1',
              driver: 'process',
              selector: { labels: { it: 'none-such' } },
            }),
          );
          return;
        }
        replies.push(message);
      });
    });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const dir = await mkdtemp(join(tmpdir(), 'simian-agent-bad-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const agent = new Agent({
      orchestratorUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/agents`,
      token: TOKEN,
      identity: { name: 'bad-peer-agent', labels: {} },
      ledgerPath: join(dir, 'ledger.json'),
      logger: pino({ level: 'silent' }),
      capabilities: ['process'],
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    expect(await eventually(() => replies.length >= 3, 5_000)).toBe(true);
    expect(replies).toEqual([
      {
        type: 'error',
        error: { code: 'SIMIAN_BAD_MESSAGE', message: expect.stringMatching(/^message is not JSON/) },
      },
      {
        type: 'error',
        id: 'bad-1',
        error: { code: 'SIMIAN_BAD_MESSAGE', message: expect.stringMatching(/^invalid message: target/) },
      },
      { type: 'targets', id: 'good-1', targets: [] },
    ]);
    expect(agent.state).toBe('running');
  });
  it('the hub drops an agent that stops answering pings', async () => {
    const logger = pino({ level: 'silent' });
    const server = new OrchestratorServer({ port: 0, token: TOKEN, logger, heartbeatMs: 100 });
    const { agentUrl } = await server.listen();
    cleanups.push(() => server.close());
    // A peer that says hello but never pongs: a hung agent host.
    const socket = new WebSocket(agentUrl, {
      headers: { authorization: `Bearer ${TOKEN}` },
      autoPong: false,
    });
    cleanups.push(() => socket.terminate());
    await new Promise<void>((resolve) => socket.once('open', () => resolve()));
    socket.send(
      JSON.stringify({
        type: 'hello',
        protocolVersion: PROTOCOL_VERSION,
        agent: { name: 'mute', labels: {} },
        capabilities: ['process'],
        activeFaults: [],
      }),
    );
    expect(await eventually(() => server.hub.agents().length === 1, 5_000)).toBe(true);
    expect(await eventually(() => server.hub.agents().length === 0, 5_000)).toBe(true);
  });

  it('the agent redials when the orchestrator stops sending heartbeats', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    let hellos = 0;
    wss.on('connection', (socket) => {
      socket.on('message', (data: Buffer) => {
        if ((JSON.parse(data.toString()) as { type: string }).type !== 'hello') return;
        hellos += 1;
        // Welcome with a 100 ms heartbeat, then never ping: the agent's watchdog must fire.
        socket.send(
          JSON.stringify({
            type: 'welcome',
            protocolVersion: PROTOCOL_VERSION,
            sessionId: `s${hellos}`,
            heartbeatMs: 100,
          }),
        );
      });
    });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const dir = await mkdtemp(join(tmpdir(), 'simian-agent-watchdog-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const agent = new Agent({
      orchestratorUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/agents`,
      token: TOKEN,
      identity: { name: 'watchdog-agent', labels: {} },
      ledgerPath: join(dir, 'ledger.json'),
      logger: pino({ level: 'silent' }),
      capabilities: ['process'],
      reconnectMinMs: 20,
      reconnectMaxMs: 50,
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    expect(await eventually(() => hellos >= 3, 5_000)).toBe(true);
  });
});
