import { OrchestratorServer, parseExperimentSource, runExperiment } from '@simian/orchestrator';
import { PROTOCOL_VERSION, type Target } from '@simian/protocol';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const TOKEN = 'interleavings-token';
const logger = pino({ level: 'silent' });

function target(id: string): Target {
  return { driver: 'process', id, name: `proc-${id}`, labels: { app: 'fake' }, agent: 'fake-agent' };
}

function experiment(mode: string, duration = '1s') {
  const parsed = parseExperimentSource(
    `apiVersion: simian.dev/v1alpha1
kind: Experiment
metadata: { name: interleaving }
spec:
  target: { driver: process, selector: { labels: { app: fake } }, mode: "${mode}" }
  faults: [{ type: pause }]
  duration: ${duration}
  steadyState:
    probes: [{ name: ok, command: { run: 'true' }, interval: 100ms }]
    before: 300ms
    after: 2s
`,
    'interleaving.yaml',
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.experiment;
}

type Handler = (socket: WebSocket, message: Record<string, unknown>, connection: number) => void;

/** A protocol peer standing in for an agent, so a test can misbehave at an exact step. */
class FakeAgent {
  readonly received: Array<Record<string, unknown>> = [];
  private connections = 0;
  readonly sockets: WebSocket[] = [];

  constructor(
    private readonly url: string,
    private readonly targets: Target[],
    private readonly onRequest: Handler,
  ) {}

  close(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  connect(): Promise<void> {
    const connection = ++this.connections;
    const socket = new WebSocket(this.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    this.sockets.push(socket);
    return new Promise((resolve) => {
      socket.on('open', () =>
        socket.send(
          JSON.stringify({
            type: 'hello',
            protocolVersion: PROTOCOL_VERSION,
            agent: { name: 'fake-agent', labels: {} },
            capabilities: ['process'],
            activeFaults: [],
          }),
        ),
      );
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as Record<string, unknown>;
        if (message.type === 'welcome') {
          resolve();
          return;
        }
        this.received.push(message);
        if (message.type === 'list-targets') {
          socket.send(JSON.stringify({ type: 'targets', id: message.id, targets: this.targets }));
          return;
        }
        this.onRequest(socket, message, connection);
      });
    });
  }
}

function injected(socket: WebSocket, message: Record<string, unknown>): void {
  socket.send(
    JSON.stringify({
      type: 'injected',
      id: message.id,
      faultId: message.faultId,
      injectedAt: Date.now(),
      leaseExpiresAt: Date.now() + 1_000,
    }),
  );
}

function reverted(socket: WebSocket, message: Record<string, unknown>): void {
  socket.send(
    JSON.stringify({
      type: 'reverted',
      id: message.id,
      faultId: message.faultId,
      runId: message.runId,
      revertedAt: Date.now(),
      outcome: 'reverted',
      reason: 'requested',
    }),
  );
}

describe('runner against an agent that misbehaves at the worst moment', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function server(): Promise<{ server: OrchestratorServer; agentUrl: string }> {
    const created = new OrchestratorServer({ port: 0, token: TOKEN, logger });
    const { agentUrl } = await created.listen();
    cleanups.push(() => created.close());
    return { server: created, agentUrl };
  }

  it('reverts a fault whose inject got no reply because the link dropped mid-inject', async () => {
    const { server: orchestrator, agentUrl } = await server();
    const fake: FakeAgent = new FakeAgent(agentUrl, [target('1:1')], (socket, message, connection) => {
      // The agent applied it, then the link died before the reply; it comes back as a new session.
      if (message.type === 'inject' && connection === 1) {
        socket.terminate();
        void fake.connect();
      }
      if (message.type === 'revert') reverted(socket, message);
    });
    cleanups.push(() => fake.close());
    await fake.connect();
    const journal = await runExperiment(orchestrator.hub, {
      experiment: experiment('one'),
      logger,
      leaseMs: 5_000,
    });
    const reverts = fake.received.filter((message) => message.type === 'revert');
    expect(reverts.map((message) => message.faultId)).toEqual([journal.faults[0]?.faultId]);
    expect(journal.verdict).toBe('error');
    expect(journal.faults[0]).toMatchObject({ revertOutcome: 'reverted' });
  });

  it('renews leases while other injects are still in flight, and a fault the agent ended early makes the run an error', async () => {
    const { server: orchestrator, agentUrl } = await server();
    let slow: { socket: WebSocket; message: Record<string, unknown> } | undefined;
    const fake = new FakeAgent(agentUrl, [target('1:1'), target('2:2')], (socket, message) => {
      if (message.type === 'inject') {
        // The first inject answers at once; the second takes long (a stop with a long grace period).
        if (slow === undefined && message.target && (message.target as Target).id === '2:2') {
          slow = { socket, message };
          setTimeout(() => injected(socket, message), 1_500);
        } else injected(socket, message);
      }
      if (message.type === 'renew')
        socket.send(JSON.stringify({ type: 'renewed', id: message.id, unknown: [] }));
      if (message.type === 'revert') reverted(socket, message);
    });
    cleanups.push(() => fake.close());
    await fake.connect();
    const journal = await runExperiment(orchestrator.hub, {
      experiment: experiment('all', '500ms'),
      logger,
      leaseMs: 1_000,
    });
    const firstInjectAt = fake.received.findIndex((message) => message.type === 'inject');
    const renewsBeforeHold = fake.received
      .slice(firstInjectAt)
      .filter((message) => message.type === 'renew' && (message.faultIds as string[]).length > 0);
    expect(renewsBeforeHold.length).toBeGreaterThan(0);
    expect(journal.verdict).toBe('passed');

    // Now the same, but the agent reports the fast fault ended by its lease while the slow inject runs.
    const fake2 = new FakeAgent(agentUrl, [target('1:1'), target('2:2')], (socket, message) => {
      if (message.type === 'inject') {
        if ((message.target as Target).id === '2:2') {
          setTimeout(() => injected(socket, message), 1_000);
          return;
        }
        injected(socket, message);
        setTimeout(
          () =>
            socket.send(
              JSON.stringify({
                type: 'reverted',
                faultId: message.faultId,
                runId: message.runId,
                revertedAt: Date.now(),
                outcome: 'reverted',
                reason: 'lease-expired',
              }),
            ),
          200,
        );
      }
      if (message.type === 'renew')
        socket.send(JSON.stringify({ type: 'renewed', id: message.id, unknown: [] }));
      if (message.type === 'revert') reverted(socket, message);
    });
    cleanups.push(() => fake2.close());
    await fake2.connect();
    const second = await runExperiment(orchestrator.hub, {
      experiment: experiment('all', '500ms'),
      logger,
      leaseMs: 5_000,
    });
    expect(second.verdict).toBe('error');
    expect(second.reason).toMatch(/^fault on proc-1:1 ended early \(lease-expired\)/);
  });
});
