import {
  type FaultSpec,
  isProtected,
  matchesSelector,
  type Selector,
  SimianError,
  type Target,
} from '@simian/protocol';
import { type Mode, targetCount } from '../experiments/mode.js';

type ZoneOutageFault = Extract<FaultSpec, { type: 'zone-outage' }>;
type PartitionFault = Extract<FaultSpec, { type: 'partition' }>;

/** mulberry32: small, fast and good enough to make target choice reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/**
 * Picks the targets a run hits: never a protected one, never more than the mode allows, and the
 * same ones for the same seed and candidates (candidates are sorted first, so agent answer order
 * does not matter).
 */
export function selectTargets(candidates: readonly Target[], mode: Mode, seed: number): Target[] {
  const eligible = candidates.filter((target) => !isProtected(target.labels)).sort(byAgentAndId);
  const count = targetCount(mode, eligible.length);
  const random = seededRandom(seed);
  // Partial Fisher-Yates: the first `count` slots end up a uniform sample.
  const pool = [...eligible];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    const chosen = pool[j] as Target;
    pool[j] = pool[i] as Target;
    pool[i] = chosen;
  }
  return pool.slice(0, count);
}

/** The zone-outage fault of an experiment; validation makes it the only fault when present. */
export function zoneOutageOf(faults: readonly FaultSpec[]): ZoneOutageFault | undefined {
  return faults.find((fault): fault is ZoneOutageFault => fault.type === 'zone-outage');
}

/**
 * The selector candidates are listed with. A zone outage narrows the experiment's selector to
 * its zone (validation guarantees the selector names no other zone).
 */
export function candidateSelector(selector: Selector, faults: readonly FaultSpec[]): Selector {
  const outage = zoneOutageOf(faults);
  return outage === undefined ? selector : { ...selector, zone: outage.zone };
}

/** `{app=web, zone=zone-a}`, as messages show a selector. */
export function describeSelector(selector: Selector): string {
  const parts = Object.entries(selector.labels).map(([key, value]) => `${key}=${value}`);
  if (selector.zone !== undefined) parts.push(`zone=${selector.zone}`);
  return `{${parts.join(', ')}}`;
}

function byAgentAndId(a: Target, b: Target): number {
  return a.agent === b.agent ? a.id.localeCompare(b.id) : a.agent.localeCompare(b.agent);
}

/** The other side of a partition, resolved: who it cuts off and the addresses sent to the agents. */
export interface PartitionPeers {
  targets: Target[];
  addresses: string[];
}

/**
 * Resolves a partition's `to` side against the targets the agents listed for its selector. The
 * `from` side is the run's chosen targets. Throws when the partition would not be the one the
 * experiment describes: nobody on the other side, a peer without an address (it could not be
 * cut off), or a target on both sides (it would be cut off from itself).
 */
export function resolvePartitionPeers(
  fault: PartitionFault,
  from: readonly Target[],
  listed: readonly Target[],
  agents: readonly string[],
): PartitionPeers {
  const to = fault.to;
  const targets = listed
    .filter((target) => !isProtected(target.labels) && matchesSelector(target, to))
    .sort(byAgentAndId);
  const side = `partition to ${describeSelector(to)}`;
  if (targets.length === 0) {
    throw new SimianError(
      'SIMIAN_NO_TARGETS',
      `${side} matched no target on ${agents.length} agent(s): ${agents.join(', ')}; nothing was injected`,
      {
        hint: 'the to selector is matched like spec.target.selector, against every agent with the same driver; protected targets are never on either side',
      },
    );
  }
  const withoutAddress = targets.filter((target) => (target.addresses ?? []).length === 0);
  if (withoutAddress.length > 0) {
    throw new SimianError(
      'SIMIAN_PARTITION_NO_ADDRESSES',
      `${side}: ${withoutAddress.map(describeTarget).join(', ')} report no IPv4 address, so traffic to them cannot be cut off; nothing was injected`,
      {
        hint: 'containers on network mode host or none have no address of their own; narrow the to selector to containers on a bridge or overlay network',
      },
    );
  }
  const toIds = new Set(targets.map((target) => `${target.agent}/${target.id}`));
  const addresses = [...new Set(targets.flatMap((target) => target.addresses ?? []))];
  const peerAddresses = new Set(addresses);
  const onBothSides = from.filter(
    (target) =>
      toIds.has(`${target.agent}/${target.id}`) ||
      (target.addresses ?? []).some((address) => peerAddresses.has(address)),
  );
  if (onBothSides.length > 0) {
    throw new SimianError(
      'SIMIAN_PARTITION_OVERLAP',
      `${side}: ${onBothSides.map(describeTarget).join(', ')} would be on both sides of the partition (chosen by spec.target.selector and matched by to, or sharing an address with a peer); nothing was injected`,
      {
        hint: 'spec.target is the from side of a partition; make spec.target.selector and the partition to select different targets',
      },
    );
  }
  return { targets, addresses };
}

function describeTarget(target: Target): string {
  return `${target.name} on ${target.agent}`;
}
