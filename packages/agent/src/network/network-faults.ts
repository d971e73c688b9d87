import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { durationMs, rateBytesPerSecond, SimianError, splitHostPort, type WireFault } from '@simian/protocol';
import type { AppliedFault, FaultContext, FaultOf, RevertOutcome } from '../drivers/driver.js';
import { FaultRefusedError } from '../drivers/driver.js';
import { faultTag } from './fault-tag.js';
import { proxyMechanism } from './netem.js';
import { NamespaceCommandError, type NetworkNamespace, runInNamespace } from './netns.js';
import { buildRenewal, buildRuleset, type Destination, type NftPlan, setNames } from './nft-ruleset.js';
import {
  moveProxyDeadline,
  type ProxyBehaviour,
  type ProxyListener,
  type RunningProxy,
  startProxy,
  stopProxies,
} from './proxy-process.js';
import { verifyRoundTrip } from './verify-round-trip.js';

/** The kernel ends a fault this long after its lease, should the agent not revert it first. */
export const KERNEL_MARGIN_MS = 2_000;
/** A proxy outlives its redirect by this much: a redirect to a dead proxy is a hard outage. */
export const PROXY_MARGIN_MS = 3_000;
const VERIFY_TIMEOUT_MS = 5_000;
const VERIFY_SCRIPT = fileURLToPath(new URL('../../dist/network/verify-main.js', import.meta.url));

/** Where a target's network is, as its driver found it just now. */
export interface NetworkSite {
  ns: NetworkNamespace;
  /** The target's address inside its namespace: where its services listen (the proxy's upstream). */
  localAddress: string;
  /** The address the agent reaches the target on from its own namespace (to verify inbound faults). */
  reachableAddress: string;
  /** Whether the namespace is the agent's own (the host's), where outbound faults would hit everyone. */
  shared: boolean;
}

export type NetworkFault = FaultOf<'latency' | 'loss' | 'bandwidth' | 'reset' | 'timeout' | 'partition'>;
/** What the nftables side of a fault needs: a network fault, or a zone isolated. */
type NftFault = NetworkFault | { type: 'isolate' };

/** What this agent process applied and still holds, for renewals and for the proxy watchdog. */
interface HeldNetworkFault {
  ns: NetworkNamespace;
  plan: NftPlan;
  proxy?: RunningProxy;
  reverting: boolean;
}
const held = new Map<string, HeldNetworkFault>();

function proxyBehaviour(fault: NetworkFault): ProxyBehaviour | undefined {
  switch (fault.type) {
    case 'latency':
      return { kind: 'latency', delayMs: durationMs(fault.delay), jitterMs: durationMs(fault.jitter) };
    case 'bandwidth':
      return { kind: 'bandwidth', bytesPerSecond: Math.max(1, Math.round(rateBytesPerSecond(fault.rate))) };
    case 'timeout':
      return { kind: 'timeout' };
    default:
      return undefined;
  }
}

async function resolveDestinations(to: readonly string[]): Promise<Destination[]> {
  return Promise.all(
    to.map(async (entry) => {
      const { host, port } = splitHostPort(entry);
      try {
        const { address } = await lookup(host, { family: 4 });
        return { address, port };
      } catch (error) {
        throw new FaultRefusedError(
          'SIMIAN_INJECT_FAILED',
          `cannot resolve ${host} (in to: ${entry}) from the agent's host: ${(error as Error).message}`,
        );
      }
    }),
  );
}

function describe(fault: NftFault): string {
  switch (fault.type) {
    case 'latency':
      return `latency ${fault.delay}${durationMs(fault.jitter) > 0 ? ` ±${fault.jitter}` : ''}`;
    case 'loss':
      return `${fault.percent}% loss`;
    case 'bandwidth':
      return `bandwidth ${fault.rate}`;
    case 'reset':
      return 'reset of new connections';
    case 'timeout':
      return 'hanging new connections';
    case 'partition':
      return `partition from ${fault.peers.join(', ')}`;
    case 'isolate':
      return 'isolation';
  }
}

function trafficOf(fault: NftFault): string {
  if (fault.type === 'partition' || fault.type === 'isolate') return '';
  if ('direction' in fault && fault.direction === 'outbound')
    return ` on outbound traffic to ${(fault.to ?? []).join(', ')}`;
  return ` on inbound traffic to port${(fault.ports ?? []).length > 1 ? 's' : ''} ${(fault.ports ?? []).join(', ')}`;
}

/**
 * Applies a network fault in the site's namespace: a proxy first when the fault needs one, then
 * its nft table in one transaction, then a check that it took effect. The caller has written the
 * ledger entry; on any failure it calls `revertNetworkFault`, which removes whatever got made.
 */
export async function applyNetworkFault(
  site: NetworkSite,
  fault: NftFault,
  context: FaultContext,
): Promise<AppliedFault> {
  const tag = faultTag(context.faultId);
  const kernelMs = context.leaseMs + KERNEL_MARGIN_MS;
  const outbound = 'direction' in fault && fault.direction === 'outbound';
  if (outbound && site.shared) {
    throw new FaultRefusedError(
      'SIMIAN_FAULT_UNSUPPORTED',
      `outbound ${fault.type} on ${site.ns.what} would hit every process on the host, not just the target`,
      { hint: 'use direction: inbound with the ports the target listens on, or the docker driver' },
    );
  }
  const behaviour = fault.type === 'isolate' ? undefined : proxyBehaviour(fault);
  const token = randomBytes(16).toString('hex');
  const destinations = outbound && 'to' in fault ? await resolveDestinations(fault.to ?? []) : [];
  const ports = 'ports' in fault ? (fault.ports ?? []) : [];

  let proxy: RunningProxy | undefined;
  if (behaviour) {
    const listeners: ProxyListener[] = outbound
      ? destinations.map((d) => ({
          listen: { host: '0.0.0.0', port: 0 },
          upstream: { host: d.address, port: d.port },
          behaviour,
        }))
      : ports.map((port) => ({
          listen: { host: '0.0.0.0', port: 0 },
          upstream: { host: site.localAddress, port },
          behaviour,
        }));
    proxy = await startProxy(site.ns, tag, {
      deadline: Date.now() + kernelMs + PROXY_MARGIN_MS,
      verifyToken: token,
      listeners,
    });
  }
  const record: HeldNetworkFault = {
    ns: site.ns,
    plan: { kind: 'isolate' },
    reverting: false,
    ...(proxy ? { proxy } : {}),
  };
  record.plan = planFor(fault, ports, destinations, proxy?.ports ?? []);
  held.set(tag, record);
  if (proxy) watchProxy(tag, record, proxy);

  try {
    await runInNamespace(site.ns, 'nft', ['-f', '-'], buildRuleset(tag, record.plan, kernelMs));
  } catch (error) {
    throw new SimianError(
      'SIMIAN_INJECT_FAILED',
      `cannot add the nftables rules for ${describe(fault)} in ${site.ns.what}: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'the agent needs root (CAP_NET_ADMIN) and the nft command on its host',
      },
    );
  }
  const checks = await verify(site, fault, record, token, destinations, tag);
  const mechanism =
    proxy !== undefined
      ? await proxyMechanism()
      : fault.type === 'loss'
        ? 'nftables (numgen random drop)'
        : fault.type === 'reset'
          ? 'nftables (reject with tcp reset)'
          : 'nftables (drop)';
  const proxyPart = proxy ? `proxy pid ${proxy.pid}, ` : '';
  return {
    detail: `${describe(fault)}${trafficOf(fault)} of ${site.ns.what}: ${proxyPart}nft table inet ${tag} (ends by itself ${Math.ceil(kernelMs / 1000)}s after the last renewal)${checks}`,
    mechanism,
  };
}

function planFor(
  fault: NftFault,
  ports: number[],
  destinations: Destination[],
  proxyPorts: number[],
): NftPlan {
  const proxyPort = (i: number): number => {
    const port = proxyPorts[i];
    if (port === undefined) throw new Error(`no proxy port for listener ${i}`);
    return port;
  };
  switch (fault.type) {
    case 'latency':
    case 'bandwidth':
      return fault.direction === 'outbound'
        ? {
            kind: 'redirect-outbound',
            redirects: destinations.map((d, i) => ({ ...d, proxyPort: proxyPort(i) })),
          }
        : {
            kind: 'redirect-inbound',
            redirects: ports.map((port, i) => ({ port, proxyPort: proxyPort(i) })),
          };
    case 'timeout':
      return {
        kind: 'redirect-inbound',
        redirects: ports.map((port, i) => ({ port, proxyPort: proxyPort(i) })),
      };
    case 'loss': {
      const per10000 = Math.round(fault.percent * 100);
      return fault.direction === 'outbound'
        ? { kind: 'drop-outbound', destinations, per10000 }
        : { kind: 'drop-inbound', ports, per10000 };
    }
    case 'reset':
      return { kind: 'reset-inbound', ports };
    case 'partition':
      return { kind: 'block-peers', peers: fault.peers };
    case 'isolate':
      return { kind: 'isolate' };
  }
}

/**
 * A proxy that dies while its redirect is in place turns a fault into an outage: remove the
 * redirect at once. The fault then has ended early; the revert later finds nothing to undo.
 */
function watchProxy(tag: string, record: HeldNetworkFault, proxy: RunningProxy): void {
  proxy.child.once('exit', () => {
    if (record.reverting || held.get(tag) !== record) return;
    runInNamespace(record.ns, 'nft', ['delete', 'table', 'inet', tag]).catch(() => undefined);
  });
}

/** Proof the fault is in effect; returns what was measured, for the journal. */
async function verify(
  site: NetworkSite,
  fault: NftFault,
  record: HeldNetworkFault,
  token: string,
  destinations: Destination[],
  tag: string,
): Promise<string> {
  const listed = await runInNamespace(site.ns, 'nft', ['-j', 'list', 'table', 'inet', tag]).catch(
    (error: unknown) => {
      throw notInEffect(fault, site, `its nft table is missing: ${(error as Error).message}`);
    },
  );
  const missing = setNames(record.plan).filter((name) => !setHasElements(listed.stdout, name));
  if (missing.length > 0)
    throw notInEffect(fault, site, `sets ${missing.join(', ')} of table ${tag} are empty`);
  const plan = record.plan;
  if (plan.kind === 'redirect-inbound') {
    const rtts = [];
    for (const { port } of plan.redirects) {
      rtts.push(
        await verifyRoundTrip(site.reachableAddress, port, token, VERIFY_TIMEOUT_MS).catch(
          (error: unknown) => {
            throw notInEffect(fault, site, (error as Error).message);
          },
        ),
      );
    }
    return checkLatency(fault, site, rtts);
  }
  if (plan.kind === 'redirect-outbound') {
    const rtts = [];
    for (const destination of destinations)
      rtts.push(await verifyFromInside(site, fault, destination, token));
    return checkLatency(fault, site, rtts);
  }
  if (plan.kind === 'reset-inbound') {
    for (const port of plan.ports) {
      const refused = await connectionRefused(site.reachableAddress, port);
      if (!refused) throw notInEffect(fault, site, `a new connection to port ${port} was not reset`);
    }
    return '; verified: new connections are reset';
  }
  return '; verified: rules in place';
}

function checkLatency(fault: NftFault, site: NetworkSite, rtts: number[]): string {
  const measured = rtts.map((rtt) => `${rtt.toFixed(1)} ms`).join(', ');
  if (fault.type === 'latency') {
    // The proxy may sample as low as delay − jitter; allow 1 ms of clock slack below that.
    const floor = Math.max(0, durationMs(fault.delay) - durationMs(fault.jitter)) - 1;
    const short = rtts.find((rtt) => rtt < floor);
    if (short !== undefined)
      throw notInEffect(
        fault,
        site,
        `a round trip through the proxy took ${short.toFixed(1)} ms, less than the ${floor + 1} ms asked for`,
      );
  }
  return `; verified: round trip through the proxy ${measured}`;
}

async function verifyFromInside(
  site: NetworkSite,
  fault: NftFault,
  destination: Destination,
  token: string,
): Promise<number> {
  const target = `${destination.address}:${destination.port}`;
  if (site.ns.pid === undefined) {
    return verifyRoundTrip(destination.address, destination.port, token, VERIFY_TIMEOUT_MS).catch(
      (error: unknown) => {
        throw notInEffect(fault, site, (error as Error).message);
      },
    );
  }
  const result = await runInNamespace(
    site.ns,
    process.execPath,
    [VERIFY_SCRIPT, destination.address, String(destination.port), token, String(VERIFY_TIMEOUT_MS)],
    undefined,
    VERIFY_TIMEOUT_MS + 5_000,
  ).catch((error: unknown) => {
    throw notInEffect(fault, site, `${target}: ${(error as Error).message}`);
  });
  const parsed = JSON.parse(result.stdout.trim() || '{}') as { rttMs?: number; error?: string };
  if (typeof parsed.rttMs !== 'number')
    throw notInEffect(fault, site, `${target}: ${parsed.error ?? 'no answer'}`);
  return parsed.rttMs;
}

function connectionRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, VERIFY_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET');
    });
  });
}

function isNoSuchTable(error: unknown): boolean {
  return error instanceof NamespaceCommandError && /No such file or directory/.test(error.stderr);
}

function setHasElements(nftJson: string, name: string): boolean {
  try {
    const parsed = JSON.parse(nftJson) as { nftables: { set?: { name: string; elem?: unknown[] } }[] };
    return parsed.nftables.some((item) => item.set?.name === name && (item.set.elem?.length ?? 0) > 0);
  } catch {
    return false;
  }
}

function notInEffect(fault: NftFault, site: NetworkSite, why: string): SimianError {
  return new SimianError(
    'SIMIAN_FAULT_NOT_IN_EFFECT',
    `${describe(fault)} on ${site.ns.what} did not take effect: ${why}`,
    {
      hint: 'the fault has been undone; check the agent log and that nothing else rewrites the rules in that namespace',
    },
  );
}

/**
 * Removes what a network fault made, in an order that never leaves a connection stranded:
 * 1. flush the table's rules: new connections no longer go to the proxy, while its chains stay
 *    registered, so connections already going through it keep their address translation;
 * 2. stop the proxies: connections through them end (closed, not left hanging);
 * 3. delete the table.
 * Deleting the table first would unregister the NAT hooks, after which the proxy's replies to
 * connections in flight no longer reach their clients, which then hang until they time out.
 * `site` is undefined when the target's namespace is gone (container stopped or removed): its
 * rules went with it and only stray proxies remain. Safe to call any number of times, and after a
 * crash with only the fault id known.
 */
export async function revertNetworkFault(
  site: NetworkSite | undefined,
  whatIsGone: string,
  context: Pick<FaultContext, 'faultId'>,
): Promise<RevertOutcome> {
  const tag = faultTag(context.faultId);
  const record = held.get(tag);
  if (record) record.reverting = true;
  let tableFound = false;
  let expired = false;
  const fail = (action: string, error: unknown): SimianError => {
    if (record) record.reverting = false;
    return new SimianError(
      'SIMIAN_REVERT_FAILED',
      `cannot ${action} nft table inet ${tag} in ${site?.ns.what}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  };
  if (site) {
    try {
      // A table whose sets are all empty is one the kernel already ended at its timeout.
      const listed = await runInNamespace(site.ns, 'nft', ['-j', 'list', 'table', 'inet', tag]);
      tableFound = true;
      expired = !/"elem"/.test(listed.stdout);
      await runInNamespace(site.ns, 'nft', ['flush', 'table', 'inet', tag]);
    } catch (error) {
      if (!isNoSuchTable(error)) throw fail(tableFound ? 'flush' : 'list', error);
    }
  }
  const proxies = await stopProxies(tag);
  let tableRemoved = false;
  if (site && tableFound) {
    try {
      await runInNamespace(site.ns, 'nft', ['delete', 'table', 'inet', tag]);
      tableRemoved = true;
    } catch (error) {
      if (!isNoSuchTable(error)) throw fail('delete', error);
    }
  }
  held.delete(tag);
  const proxyPart = proxies.length > 0 ? `; stopped proxy pid ${proxies.join(', ')}` : '';
  if (!site) {
    return {
      outcome: 'target-gone',
      detail: `${whatIsGone}: its network namespace and the rules in it are gone${proxyPart}`,
    };
  }
  if (tableRemoved && expired) {
    return {
      outcome: 'nothing-to-revert',
      detail: `the kernel had already ended the fault at its timeout; deleted its empty nft table inet ${tag} in ${site.ns.what}${proxyPart}`,
    };
  }
  if (tableRemoved)
    return { outcome: 'reverted', detail: `deleted nft table inet ${tag} in ${site.ns.what}${proxyPart}` };
  return {
    outcome: 'nothing-to-revert',
    detail: `no nft table ${tag} in ${site.ns.what} (the fault never got that far, or the namespace was replaced since, e.g. by a restart)${proxyPart}`,
  };
}

/** Moves the kernel's timeouts and the proxy's deadline to the new lease. */
export async function renewNetworkFault(context: FaultContext): Promise<void> {
  const tag = faultTag(context.faultId);
  const record = held.get(tag);
  if (!record || record.reverting) return;
  const kernelMs = context.leaseMs + KERNEL_MARGIN_MS;
  // The proxy first: it must outlive the redirect the kernel keeps.
  if (record.proxy) moveProxyDeadline(record.proxy, Date.now() + kernelMs + PROXY_MARGIN_MS);
  await runInNamespace(record.ns, 'nft', ['-f', '-'], buildRenewal(tag, record.plan, kernelMs));
}

/** Narrows a wire fault to the ones this module makes. */
export function isNetworkFault(fault: WireFault): fault is NetworkFault {
  return ['latency', 'loss', 'bandwidth', 'reset', 'timeout', 'partition'].includes(fault.type);
}
