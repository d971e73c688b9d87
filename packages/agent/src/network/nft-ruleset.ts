/**
 * nftables rulesets for network faults. Each fault owns one `inet` table named by its tag, so
 * its rules are never mixed with anyone else's and a revert deletes the table whole. Every rule
 * matches through a set whose elements carry a timeout: when the agent never comes back to revert,
 * the kernel ends the fault by itself at the lease (plus a margin).
 */

/** The uid fault proxies run as; their own connections are exempt from the redirects. */
export const PROXY_UID = 64123;

export interface Destination {
  address: string;
  port: number;
}

/** What a fault does, in terms of packets. */
export type NftPlan =
  /** Connections to the target's ports go to a local proxy listener instead. */
  | { kind: 'redirect-inbound'; redirects: { port: number; proxyPort: number }[] }
  /** Connections from the target to these destinations go to a local proxy listener instead. */
  | { kind: 'redirect-outbound'; redirects: (Destination & { proxyPort: number })[] }
  /** Packets to the target's ports are dropped with this probability (per 10,000). */
  | { kind: 'drop-inbound'; ports: number[]; per10000: number }
  | { kind: 'drop-outbound'; destinations: Destination[]; per10000: number }
  /** New connections to the ports get a TCP reset. */
  | { kind: 'reset-inbound'; ports: number[] }
  /** Nothing from or to these addresses passes. */
  | { kind: 'block-peers'; peers: string[] }
  /** Nothing but loopback traffic passes. */
  | { kind: 'isolate' };

interface NftSet {
  name: string;
  type: string;
  elements: string[];
}

interface NftChain {
  name: string;
  hook: 'prerouting' | 'input' | 'output';
  nat: boolean;
  rules: string[];
}

const ISOLATED_PROTOCOLS = ['tcp', 'udp', 'icmp', 'ipv6-icmp', 'sctp'];

function layout(plan: NftPlan): { sets: NftSet[]; chains: NftChain[] } {
  switch (plan.kind) {
    case 'redirect-inbound': {
      const sets = plan.redirects.map((r, i) => ({
        name: `r${i}`,
        type: 'inet_service',
        elements: [String(r.port)],
      }));
      return {
        sets,
        chains: [
          {
            name: 'prerouting',
            hook: 'prerouting',
            nat: true,
            rules: plan.redirects.map((r, i) => `tcp dport @r${i} redirect to :${r.proxyPort}`),
          },
          {
            // Clients in the same namespace (processes on the host, or the container itself)
            // pass through output, not prerouting. The proxy's own upstream connections are exempt.
            name: 'output',
            hook: 'output',
            nat: true,
            rules: plan.redirects.map(
              (r, i) =>
                `meta skuid != ${PROXY_UID} fib daddr type local tcp dport @r${i} redirect to :${r.proxyPort}`,
            ),
          },
        ],
      };
    }
    case 'redirect-outbound': {
      const sets = plan.redirects.map((r, i) => ({
        name: `r${i}`,
        type: 'ipv4_addr . inet_service',
        elements: [`${r.address} . ${r.port}`],
      }));
      return {
        sets,
        chains: [
          {
            name: 'output',
            hook: 'output',
            nat: true,
            rules: plan.redirects.map(
              (r, i) => `meta skuid != ${PROXY_UID} ip daddr . tcp dport @r${i} redirect to :${r.proxyPort}`,
            ),
          },
        ],
      };
    }
    case 'drop-inbound':
      return {
        sets: [{ name: 'd', type: 'inet_service', elements: plan.ports.map(String) }],
        chains: [
          {
            name: 'input',
            hook: 'input',
            nat: false,
            rules: [`meta l4proto { tcp, udp } th dport @d ${chance(plan.per10000)}drop`],
          },
        ],
      };
    case 'drop-outbound':
      return {
        sets: [
          {
            name: 'd',
            type: 'ipv4_addr . inet_service',
            elements: plan.destinations.map((d) => `${d.address} . ${d.port}`),
          },
        ],
        chains: [
          {
            name: 'output',
            hook: 'output',
            nat: false,
            rules: [`meta l4proto { tcp, udp } ip daddr . th dport @d ${chance(plan.per10000)}drop`],
          },
        ],
      };
    case 'reset-inbound':
      return {
        sets: [{ name: 'x', type: 'inet_service', elements: plan.ports.map(String) }],
        chains: [
          {
            name: 'input',
            hook: 'input',
            nat: false,
            rules: ['tcp dport @x tcp flags & (syn | ack) == syn reject with tcp reset'],
          },
        ],
      };
    case 'block-peers':
      return {
        sets: [{ name: 'p', type: 'ipv4_addr', elements: plan.peers }],
        chains: [
          { name: 'input', hook: 'input', nat: false, rules: ['ip saddr @p drop'] },
          { name: 'output', hook: 'output', nat: false, rules: ['ip daddr @p drop'] },
        ],
      };
    case 'isolate':
      return {
        sets: [{ name: 'i', type: 'inet_proto', elements: ISOLATED_PROTOCOLS }],
        chains: [
          { name: 'input', hook: 'input', nat: false, rules: ['iifname != "lo" meta l4proto @i drop'] },
          { name: 'output', hook: 'output', nat: false, rules: ['oifname != "lo" meta l4proto @i drop'] },
        ],
      };
  }
}

/** A random match with this probability per 10,000; none at all for certainty (numgen tops at 9999). */
function chance(per10000: number): string {
  return per10000 >= 10_000 ? '' : `numgen random mod 10000 < ${per10000} `;
}

/** Seconds as nft writes them; rounded up so the kernel never ends a fault before its lease. */
function nftTimeout(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))}s`;
}

/** The whole table, created in one transaction: either every rule is in place or none is. */
export function buildRuleset(table: string, plan: NftPlan, timeoutMs: number): string {
  const { sets, chains } = layout(plan);
  const timeout = nftTimeout(timeoutMs);
  const lines = [`table inet ${table} {`];
  for (const set of sets) {
    const elements = set.elements.map((element) => `${element} timeout ${timeout}`).join(', ');
    lines.push(
      `  set ${set.name} {`,
      `    type ${set.type}`,
      '    flags timeout',
      `    elements = { ${elements} }`,
      '  }',
    );
  }
  for (const chain of chains) {
    const priority = chain.nat ? -100 : 0;
    lines.push(
      `  chain ${chain.name} {`,
      `    type ${chain.nat ? 'nat' : 'filter'} hook ${chain.hook} priority ${priority}; policy accept;`,
      ...chain.rules.map((rule) => `    ${rule}`),
      '  }',
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * Moves every element's timeout in one transaction. Deleting first makes the transaction fail
 * when the kernel has already expired an element: a fault that ended stays ended.
 */
export function buildRenewal(table: string, plan: NftPlan, timeoutMs: number): string {
  const timeout = nftTimeout(timeoutMs);
  const lines: string[] = [];
  for (const set of layout(plan).sets) {
    const elements = set.elements.join(', ');
    const timed = set.elements.map((element) => `${element} timeout ${timeout}`).join(', ');
    lines.push(`delete element inet ${table} ${set.name} { ${elements} }`);
    lines.push(`add element inet ${table} ${set.name} { ${timed} }`);
  }
  return `${lines.join('\n')}\n`;
}

/** Names of the sets the plan's table holds, to verify they are all in place. */
export function setNames(plan: NftPlan): string[] {
  return layout(plan).sets.map((set) => set.name);
}
