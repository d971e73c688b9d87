import { seededRandom } from '../runner/select-targets.js';

/** Chaos Monkey's mean time between kills: each interval is drawn from mean ± jitter. */
export interface RandomInterval {
  meanMs: number;
  /** Half-width of the uniform draw; less than `meanMs`, so an interval is never zero. */
  jitterMs: number;
}

/** FNV-1a over UTF-16 code units, then a murmur3 finalizer so nearby inputs land far apart. */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * The interval after the fire at `previousFireMs`, uniform in [mean − jitter, mean + jitter].
 * It depends only on the seed and the previous fire time, not on how many draws came before,
 * so an orchestrator that restarts with the last fire time recomputes the same next fire.
 */
export function drawInterval(interval: RandomInterval, seed: string, previousFireMs: number): number {
  const random = seededRandom(hash32(`${seed}\u0000${previousFireMs}`));
  const low = interval.meanMs - interval.jitterMs;
  return low + Math.floor(random() * (2 * interval.jitterMs + 1));
}
