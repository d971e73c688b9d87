import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildRenewal, buildRuleset, type NftPlan } from './nft-ruleset.js';

/**
 * Each plan is loaded by the real nft into a private, throwaway network namespace (`unshare -n`),
 * so the kernel itself checks every rule; nothing outside that namespace is touched.
 */
function inPrivateNamespace(script: string): string {
  return execFileSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8', timeout: 10_000 });
}

const haveNft = (() => {
  try {
    inPrivateNamespace('nft list tables');
    return true;
  } catch {
    return false;
  }
})();

const plans: NftPlan[] = [
  {
    kind: 'redirect-inbound',
    redirects: [
      { port: 80, proxyPort: 41000 },
      { port: 443, proxyPort: 41001 },
    ],
  },
  { kind: 'redirect-outbound', redirects: [{ address: '10.1.2.3', port: 5432, proxyPort: 41002 }] },
  { kind: 'drop-inbound', ports: [80, 8080], per10000: 3000 },
  { kind: 'drop-outbound', destinations: [{ address: '10.1.2.3', port: 53 }], per10000: 10_000 },
  { kind: 'reset-inbound', ports: [80] },
  { kind: 'block-peers', peers: ['10.1.2.3', '10.1.2.4'] },
  { kind: 'isolate' },
];

describe.runIf(haveNft || process.env.CI === 'true')('nft rulesets', () => {
  it.each(
    plans.map((plan) => [plan.kind, plan] as const),
  )('%s loads, renews and deletes as one table', (_kind, plan) => {
    const ruleset = buildRuleset('simian_test', plan, 30_000);
    const renewal = buildRenewal('simian_test', plan, 60_000);
    const listed = inPrivateNamespace(
      `nft -f - <<'EOF'\n${ruleset}EOF\nnft -f - <<'EOF'\n${renewal}EOF\nnft list table inet simian_test; nft delete table inet simian_test; nft list tables`,
    );
    // Every element now carries the renewed timeout, and deleting the table left nothing.
    const timeouts = [...listed.matchAll(/timeout (\d+[smh][^ ,}]*)/g)].map((match) => match[1]);
    expect(timeouts.length).toBeGreaterThan(0);
    expect(timeouts.every((timeout) => timeout === '1m')).toBe(true);
    expect(listed.trim().endsWith('}')).toBe(true);
  });

  it('refuses to renew a fault whose elements the kernel already expired', () => {
    const plan: NftPlan = { kind: 'reset-inbound', ports: [80] };
    const script = `nft -f - <<'EOF'\n${buildRuleset('simian_test', plan, 1_000)}EOF\nsleep 1.6\nnft -f - <<'EOF'\n${buildRenewal('simian_test', plan, 60_000)}EOF\necho renewed=$?; nft list set inet simian_test x`;
    const output = inPrivateNamespace(`${script} 2>&1 || true`);
    expect(output).toMatch(/renewed=1/);
    // The set is empty: the fault stayed ended.
    expect(output).not.toMatch(/elements = \{/);
  });
});
