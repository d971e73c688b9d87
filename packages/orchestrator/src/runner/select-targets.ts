import { isProtected, type Target } from '@simian/protocol';
import { type Mode, targetCount } from '../experiments/mode.js';

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
  const eligible = candidates
    .filter((target) => !isProtected(target.labels))
    .sort((a, b) => (a.agent === b.agent ? a.id.localeCompare(b.id) : a.agent.localeCompare(b.agent)));
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
