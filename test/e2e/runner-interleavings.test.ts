import {
  OrchestratorServer,
  parseExperimentSource,
  type RunEvent,
  runExperiment,
} from '@simian/orchestrator';
import {
  type DriverName,
  isProtected,
  matchesSelector,
  PROTOCOL_VERSION,
  type Selector,
  type Target,
  ZONE_LABEL,
} from '@simian/protocol';
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

interface FakeAgentIdentity {
  /** @default fake-agent */
  name?: string;
  zone?: string;
  /** @default process */
  driver?: DriverName;
  /** Answers list-targets with every target, as a buggy or older agent might. */
  ignoresSelector?: boolean;
}

/** A protocol peer standing in for an agent, so a test can misbehave at an exact step. */
class FakeAgent {
  readonly received: Array<Record<string, unknown>> = [];
  private connections = 0;
  readonly sockets: WebSocket[] = [];
  readonly name: string;

  constructor(
    private readonly url: string,
    private readonly targets: Target[],
    private readonly onRequest: Handler,
    private readonly identity: FakeAgentIdentity = {},
  ) {
    this.name = identity.name ?? 'fake-agent';
  }

  /** Lists targets as a real agent does: zone from the label or the agent, selector applied, protected left out. */
  private list(selector: Selector): Target[] {
    return this.targets
      .map((target) => {
        const zone = target.labels[ZONE_LABEL] ?? this.identity.zone;
        return zone === undefined ? target : { ...target, zone };
      })
      .filter(
        (target) =>
          this.identity.ignoresSelector === true ||
          (!isProtected(target.labels) && matchesSelector(target, selector)),
      );
  }

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
            agent: {
              name: this.name,
              labels: {},
              ...(this.identity.zone === undefined ? {} : { zone: this.identity.zone }),
            },
            capabilities: [this.identity.driver ?? 'process'],
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
          const targets = this.list(message.selector as Selector);
          socket.send(JSON.stringify({ type: 'targets', id: message.id, targets }));
          return;
        }
        this.onRequest(socket, message, connection);
      });
    });
  }
}

function injected(
  socket: WebSocket,
  message: Record<string, unknown>,
  extra: { mechanism?: string; detail?: string } = {},
): void {
  socket.send(
    JSON.stringify({
      type: 'injected',
      id: message.id,
      faultId: message.faultId,
      injectedAt: Date.now(),
      leaseExpiresAt: Date.now() + 1_000,
      ...extra,
    }),
  );
}

function reverted(
  socket: WebSocket,
  message: Record<string, unknown>,
  extra: { outcome?: string; detail?: string } = {},
): void {
  socket.send(
    JSON.stringify({
      type: 'reverted',
      id: message.id,
      faultId: message.faultId,
      runId: message.runId,
      revertedAt: Date.now(),
      outcome: 'reverted',
      reason: 'requested',
      ...extra,
    }),
  );
}

/** Answers every request like a healthy agent. */
const cooperative: Handler = (socket, message) => {
  if (message.type === 'inject') injected(socket, message);
  if (message.type === 'renew') socket.send(JSON.stringify({ type: 'renewed', id: message.id, unknown: [] }));
  if (message.type === 'revert') reverted(socket, message);
};

function container(agent: string, name: string, labels: Record<string, string>, address?: string): Target {
  return {
    driver: 'docker',
    id: `${name}-0123456789abcdef`,
    name,
    labels,
    agent,
    ...(address === undefined ? {} : { addresses: [address] }),
  };
}

function dockerExperiment(target: string, faults: string) {
  const parsed = parseExperimentSource(
    `apiVersion: simian.dev/v1alpha1
kind: Experiment
metadata: { name: network }
spec:
  target: ${target}
  faults: ${faults}
  duration: 300ms
  steadyState:
    probes: [{ name: ok, command: { run: 'true' }, interval: 100ms }]
    before: 200ms
    after: 2s
`,
    'network.yaml',
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.experiment;
}

const injectsOf = (agent: FakeAgent) => agent.received.filter((message) => message.type === 'inject');

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

describe('runner with network faults and zone outages against fake agents', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function agents(
    ...fakes: Array<{ targets: Target[]; identity: FakeAgentIdentity; handler?: Handler }>
  ) {
    const created = new OrchestratorServer({ port: 0, token: TOKEN, logger });
    const { agentUrl } = await created.listen();
    cleanups.push(() => created.close());
    const connected = fakes.map(
      ({ targets, identity, handler }) => new FakeAgent(agentUrl, targets, handler ?? cooperative, identity),
    );
    for (const fake of connected) {
      cleanups.push(() => fake.close());
      await fake.connect();
    }
    return { hub: created.hub, fakes: connected };
  }

  it('a partition resolves its to side across agents and sends the peers with the fault', async () => {
    const { hub, fakes } = await agents(
      {
        identity: { name: 'host-a', zone: 'zone-a', driver: 'docker' },
        targets: [
          container('host-a', 'web-1', { app: 'web' }, '10.0.1.1'),
          container('host-a', 'db-1', { app: 'db' }, '10.0.2.1'),
        ],
      },
      {
        identity: { name: 'host-b', zone: 'zone-b', driver: 'docker' },
        targets: [
          container('host-b', 'db-2', { app: 'db' }, '10.0.2.2'),
          container('host-b', 'db-3', { app: 'db', 'simian.dev/protected': 'true' }, '10.0.2.3'),
        ],
      },
    );
    const events: RunEvent[] = [];
    const journal = await runExperiment(hub, {
      experiment: dockerExperiment(
        '{ driver: docker, selector: { labels: { app: web } } }',
        '[{ type: partition, to: { labels: { app: db } } }]',
      ),
      logger,
      leaseMs: 5_000,
      emit: (event) => events.push(event),
    });
    expect(journal.verdict).toBe('passed');
    const [hostA, hostB] = fakes as [FakeAgent, FakeAgent];
    expect(injectsOf(hostB)).toEqual([]);
    expect(injectsOf(hostA).map((message) => [(message.target as Target).name, message.fault])).toEqual([
      ['web-1', { type: 'partition', to: { labels: { app: 'db' } }, peers: ['10.0.2.1', '10.0.2.2'] }],
    ]);
    expect(journal.faults[0]?.fault).toEqual({
      type: 'partition',
      to: { labels: { app: 'db' } },
      peers: ['10.0.2.1', '10.0.2.2'],
    });
    const plan = events.find((event) => event.type === 'plan');
    expect(plan?.type === 'plan' && plan.plan.partitions?.[0]?.peers.map((peer) => peer.name)).toEqual([
      'db-1',
      'db-2',
    ]);
  });

  it('a partition whose to side matches nothing ends in error with nothing injected', async () => {
    const { hub, fakes } = await agents({
      identity: { name: 'host-a', zone: 'zone-a', driver: 'docker' },
      targets: [
        container('host-a', 'web-1', { app: 'web' }, '10.0.1.1'),
        container('host-a', 'db-1', { app: 'db' }, '10.0.2.1'),
      ],
    });
    const journal = await runExperiment(hub, {
      experiment: dockerExperiment(
        '{ driver: docker, selector: { labels: { app: web } } }',
        '[{ type: partition, to: { labels: { app: queue } } }]',
      ),
      logger,
      leaseMs: 5_000,
    });
    expect(journal.verdict).toBe('error');
    expect(journal.error).toEqual({
      code: 'SIMIAN_NO_TARGETS',
      message: 'partition to {app=queue} matched no target on 1 agent(s): host-a; nothing was injected',
    });
    expect(journal.faults).toEqual([]);
    expect(injectsOf(fakes[0] as FakeAgent)).toEqual([]);
    expect(journal.phases.map((phase) => phase.name)).toEqual(['resolve', 'revert']);
  });

  it('a zone outage hits exactly the targets in its zone, across agents in two zones', async () => {
    const { hub, fakes } = await agents(
      {
        identity: { name: 'host-a', zone: 'zone-a', driver: 'docker' },
        targets: [
          container('host-a', 'web-a1', { app: 'web' }),
          container('host-a', 'web-a2', { app: 'web' }),
          // Its own label moves it out of its agent's zone.
          container('host-a', 'web-moved', { app: 'web', 'simian.dev/zone': 'zone-b' }),
          container('host-a', 'web-protected', { app: 'web', 'simian.dev/protected': 'true' }),
          container('host-a', 'db-a', { app: 'db' }),
        ],
      },
      {
        identity: { name: 'host-b', zone: 'zone-b', driver: 'docker' },
        targets: [
          container('host-b', 'web-b1', { app: 'web' }),
          container('host-b', 'web-labelled-a', { app: 'web', 'simian.dev/zone': 'zone-a' }),
        ],
      },
    );
    const journal = await runExperiment(hub, {
      experiment: dockerExperiment(
        '{ driver: docker, selector: { labels: { app: web } }, mode: all }',
        '[{ type: zone-outage, zone: zone-a, mode: stop }]',
      ),
      logger,
      leaseMs: 5_000,
    });
    expect(journal.verdict).toBe('passed');
    const hit = fakes.flatMap((fake) => injectsOf(fake).map((message) => (message.target as Target).name));
    expect(hit.sort()).toEqual(['web-a1', 'web-a2', 'web-labelled-a']);
    expect(journal.targets.map((target) => [target.name, target.zone]).sort()).toEqual([
      ['web-a1', 'zone-a'],
      ['web-a2', 'zone-a'],
      ['web-labelled-a', 'zone-a'],
    ]);
    for (const fake of fakes) {
      expect(fake.received.find((message) => message.type === 'list-targets')?.selector).toEqual({
        labels: { app: 'web' },
        zone: 'zone-a',
      });
      for (const message of injectsOf(fake))
        expect(message.fault).toEqual({ type: 'zone-outage', zone: 'zone-a', mode: 'stop' });
    }
    expect(journal.faults.every((record) => record.revertOutcome === 'reverted')).toBe(true);
  });

  it('a zone outage never reaches past its zone, even when an agent lists targets of other zones', async () => {
    const { hub, fakes } = await agents({
      identity: { name: 'host-a', zone: 'zone-a', driver: 'docker', ignoresSelector: true },
      targets: [
        container('host-a', 'web-a1', { app: 'web' }),
        container('host-a', 'web-b1', { app: 'web', 'simian.dev/zone': 'zone-b' }),
      ],
    });
    const journal = await runExperiment(hub, {
      experiment: dockerExperiment(
        '{ driver: docker, selector: { labels: { app: web } }, mode: all }',
        '[{ type: zone-outage, zone: zone-a, mode: pause }]',
      ),
      logger,
      leaseMs: 5_000,
    });
    expect(journal.verdict).toBe('passed');
    expect(injectsOf(fakes[0] as FakeAgent).map((message) => (message.target as Target).name)).toEqual([
      'web-a1',
    ]);
    expect(journal.candidates).toBe(1);
  });

  it('a zone outage of an empty zone ends in error with nothing injected', async () => {
    const { hub, fakes } = await agents({
      identity: { name: 'host-a', zone: 'zone-a', driver: 'docker' },
      targets: [container('host-a', 'web-a1', { app: 'web' })],
    });
    const journal = await runExperiment(hub, {
      experiment: dockerExperiment(
        '{ driver: docker, selector: { labels: { app: web } }, mode: all }',
        '[{ type: zone-outage, zone: zone-c, mode: isolate }]',
      ),
      logger,
      leaseMs: 5_000,
    });
    expect(journal.verdict).toBe('error');
    expect(journal.error).toEqual({
      code: 'SIMIAN_NO_TARGETS',
      message:
        'zone-outage of zone-c: no target matching {app=web} (driver docker) is in zone zone-c on 1 agent(s): host-a',
    });
    expect(injectsOf(fakes[0] as FakeAgent)).toEqual([]);
  });

  it('the journal records the mechanism, and a network fault whose target is gone at revert still passes', async () => {
    const { hub } = await agents({
      identity: { name: 'host-a', zone: 'zone-a', driver: 'docker' },
      targets: [container('host-a', 'web-1', { app: 'web' }, '10.0.1.1')],
      handler: (socket, message) => {
        if (message.type === 'inject')
          injected(socket, message, {
            mechanism: 'proxy+nftables (sch_netem is not in this kernel)',
            detail: 'inbound 8080 delayed 200ms',
          });
        if (message.type === 'renew')
          socket.send(JSON.stringify({ type: 'renewed', id: message.id, unknown: [] }));
        if (message.type === 'revert')
          reverted(socket, message, {
            outcome: 'target-gone',
            detail: 'container web-1 no longer exists; its network namespace went with it',
          });
      },
    });
    const events: RunEvent[] = [];
    const journal = await runExperiment(hub, {
      experiment: dockerExperiment(
        '{ driver: docker, selector: { labels: { app: web } } }',
        '[{ type: latency, delay: 200ms, ports: [8080] }]',
      ),
      logger,
      leaseMs: 5_000,
      emit: (event) => events.push(event),
    });
    expect(journal.verdict).toBe('passed');
    expect(journal.faults[0]).toMatchObject({
      fault: { type: 'latency', delay: '200ms', jitter: '0ms', direction: 'inbound', ports: [8080] },
      mechanism: 'proxy+nftables (sch_netem is not in this kernel)',
      detail: 'inbound 8080 delayed 200ms',
      revertOutcome: 'target-gone',
      revertDetail: 'container web-1 no longer exists; its network namespace went with it',
    });
    expect(events.find((event) => event.type === 'injected')).toMatchObject({
      mechanism: 'proxy+nftables (sch_netem is not in this kernel)',
    });
    expect(events.find((event) => event.type === 'reverted')).toMatchObject({
      outcome: 'target-gone',
      detail: 'container web-1 no longer exists; its network namespace went with it',
    });
  });
});
