import { EventEmitter } from 'node:events';
import {
  type AgentIdentity,
  type AgentMessage,
  type Capability,
  type MessageOf,
  type OrchestratorMessage,
  PROTOCOL_VERSION,
  toWireError,
} from '@simian/protocol';
import type { Logger } from 'pino';
import { OrchestratorLink } from './connection/orchestrator-link.js';
import { DockerDriver } from './drivers/docker/docker-driver.js';
import type { TargetDriver } from './drivers/driver.js';
import { ProcessDriver } from './drivers/process/process-driver.js';
import { FaultRunner } from './faults/fault-runner.js';
import { Ledger } from './ledger/ledger.js';
import { netemAvailable, nftablesAvailable } from './network/netem.js';

export interface AgentOptions {
  /** ws://host:port/v1/agents */
  orchestratorUrl: string;
  token: string;
  identity: AgentIdentity;
  /** Where applied faults are recorded before they are applied. */
  ledgerPath: string;
  logger: Logger;
  /** Drivers to offer; by default process always, docker when the engine answers. */
  capabilities?: Capability[];
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export type AgentState = 'idle' | 'recovering' | 'running' | 'stopping' | 'stopped';

interface AgentEvents {
  state: [state: AgentState];
  connected: [sessionId: string];
  disconnected: [reason: string];
}

/**
 * The agent daemon: reverts whatever its ledger says is still applied, then dials the
 * orchestrator and executes its commands. Stopping reverts every fault it holds.
 */
export class Agent extends EventEmitter<AgentEvents> {
  private agentState: AgentState = 'idle';
  private runner: FaultRunner | undefined;
  private link: OrchestratorLink | undefined;
  private capabilities: Capability[] = [];

  constructor(private readonly options: AgentOptions) {
    super();
  }

  get state(): AgentState {
    return this.agentState;
  }

  get connected(): boolean {
    return this.link?.state === 'connected';
  }

  async start(): Promise<void> {
    this.transition('idle', 'recovering');
    const logger = this.options.logger;
    const drivers = await this.availableDrivers();
    this.capabilities = [...drivers.map((driver) => driver.name), ...(await networkCapabilities())];
    const ledger = await Ledger.open(this.options.ledgerPath);
    const runner = new FaultRunner({
      ledger,
      drivers,
      logger,
      onAutoRevert: (event) => {
        this.link?.send({ type: 'reverted', ...event });
      },
    });
    this.runner = runner;
    // Safety guarantee 2: nothing new is accepted until the ledger is clean.
    const recovered = await runner.recover();
    if (recovered.length > 0)
      logger.warn({ reverted: recovered.length }, 'reverted faults left by a previous run of this agent');
    this.link = new OrchestratorLink({
      url: this.options.orchestratorUrl,
      token: this.options.token,
      logger,
      hello: () => this.hello(),
      ...(this.options.reconnectMinMs === undefined ? {} : { reconnectMinMs: this.options.reconnectMinMs }),
      ...(this.options.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: this.options.reconnectMaxMs }),
    });
    this.link.on('message', (message) => {
      this.handle(message).catch((error: unknown) =>
        logger.error({ err: (error as Error).message }, 'message handler failed'),
      );
    });
    this.link.on('connected', (sessionId) => {
      logger.info({ sessionId, url: this.options.orchestratorUrl }, 'connected to the orchestrator');
      this.emit('connected', sessionId);
    });
    this.link.on('disconnected', (reason) => {
      logger.warn({ reason }, 'lost the orchestrator; active faults end when their leases run out');
      this.emit('disconnected', reason);
    });
    this.transition('recovering', 'running');
    this.link.start();
  }

  /** Resolves when connected to the orchestrator, or rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new Error(`agent ${this.options.identity.name} did not connect within ${timeoutMs}ms`));
      }, timeoutMs);
      const onConnected = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.once('connected', onConnected);
    });
  }

  /** Faults applied and not yet reverted (a failed revert keeps its fault here and in the ledger). */
  heldFaults(): number {
    return this.runner?.active().length ?? 0;
  }

  /** Reverts every fault this agent holds, then hangs up. */
  async stop(): Promise<void> {
    if (this.agentState === 'stopped' || this.agentState === 'stopping') return;
    this.agentState = 'stopping';
    this.emit('state', 'stopping');
    try {
      const reverted = (await this.runner?.revertAll('agent-shutdown')) ?? [];
      for (const event of reverted) this.link?.send({ type: 'reverted', ...event });
    } finally {
      await this.link?.close();
      const left = this.heldFaults();
      if (left > 0)
        this.options.logger.error(
          { left, ledger: this.options.ledgerPath },
          'stopping with faults not reverted; the ledger keeps them for the next start',
        );
      this.runner?.close();
      this.agentState = 'stopped';
      this.emit('state', 'stopped');
    }
  }

  private async availableDrivers(): Promise<TargetDriver[]> {
    const wanted = this.options.capabilities;
    const candidates: TargetDriver[] = [new ProcessDriver(), new DockerDriver()];
    const drivers: TargetDriver[] = [];
    for (const driver of candidates) {
      if (wanted !== undefined && !wanted.includes(driver.name)) continue;
      if (await driver.available()) drivers.push(driver);
      else if (wanted?.includes(driver.name)) {
        this.options.logger.warn(
          { driver: driver.name },
          `the ${driver.name} driver is not available on this host`,
        );
      }
    }
    return drivers;
  }

  private hello(): MessageOf<AgentMessage, 'hello'> {
    return {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      agent: this.options.identity,
      capabilities: this.capabilities,
      activeFaults: this.runner?.active() ?? [],
    };
  }

  private async handle(message: OrchestratorMessage): Promise<void> {
    const runner = this.runner;
    const link = this.link;
    if (!runner || !link) return;
    if (message.type === 'welcome') return;
    if (message.type === 'error') {
      this.options.logger.warn(
        { code: message.error.code, err: message.error.message },
        'orchestrator reported an error',
      );
      return;
    }
    // A child logger per message is measurable on the hot path; bind the run id only where logged.
    const logger = (): Logger =>
      this.options.logger.child({
        requestId: message.id,
        ...('runId' in message ? { runId: message.runId } : {}),
      });

    try {
      if (this.agentState !== 'running') throw new Error(`agent is ${this.agentState}`);
      const reply = await this.execute(runner, message);
      if (
        (message.type === 'inject' || message.type === 'revert') &&
        this.options.logger.isLevelEnabled('info')
      ) {
        logger().info(
          {
            faultId: message.faultId,
            reply: reply.type,
            ...('detail' in reply ? { detail: reply.detail } : {}),
          },
          `${message.type} done`,
        );
      }
      link.send(reply);
    } catch (error) {
      logger().warn({ type: message.type, err: (error as Error).message }, 'request failed');
      link.send({ type: 'failed', id: message.id, error: toWireError(error) });
    }
  }

  private async execute(
    runner: FaultRunner,
    message: Exclude<OrchestratorMessage, { type: 'welcome' | 'error' }>,
  ): Promise<AgentMessage> {
    switch (message.type) {
      case 'list-targets': {
        const { name, zone } = this.options.identity;
        const targets = await runner.listTargets(message.driver, message.selector, name, zone);
        return { type: 'targets', id: message.id, targets };
      }
      case 'inject': {
        const applied = await runner.apply({
          faultId: message.faultId,
          runId: message.runId,
          target: message.target,
          fault: message.fault,
          leaseMs: message.leaseMs,
        });
        return { type: 'injected', id: message.id, faultId: message.faultId, ...applied };
      }
      case 'renew':
        return { type: 'renewed', id: message.id, unknown: runner.renew(message.faultIds, message.leaseMs) };
      case 'revert': {
        const reverted = await runner.revert(message.faultId, 'requested');
        return {
          type: 'reverted',
          id: message.id,
          runId: message.runId,
          faultId: message.faultId,
          reason: 'requested',
          ...reverted,
        };
      }
    }
  }

  private transition(from: AgentState, to: AgentState): void {
    if (this.agentState !== from) throw new Error(`agent cannot go from ${this.agentState} to ${to}`);
    this.agentState = to;
    this.emit('state', to);
  }
}

/** The network mechanisms this host offers, reported in `hello` (and shown by `simian agents`). */
async function networkCapabilities(): Promise<Capability[]> {
  const [nft, netem] = await Promise.all([nftablesAvailable(), netemAvailable()]);
  return [...(nft ? (['nftables'] as const) : []), ...(netem ? (['netem'] as const) : [])];
}
