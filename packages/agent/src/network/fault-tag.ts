import { createHash } from 'node:crypto';

/**
 * The name of everything a network fault creates (its nft table, the `--fault` argument of its
 * proxy), derived from the fault id alone so a revert after a crash finds them from the ledger.
 * Hashed because fault ids hold characters nft names cannot.
 */
export function faultTag(faultId: string): string {
  return `simian_${createHash('sha256').update(faultId).digest('hex').slice(0, 16)}`;
}

/** Prefix of every simian nft table, for leftover checks. */
export const TABLE_PREFIX = 'simian_';
