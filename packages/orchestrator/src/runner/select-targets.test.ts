import type { Target } from '@simian/protocol';
import { describe, expect, it } from 'vitest';
import { type Mode, parseMode, targetCount } from '../experiments/mode.js';
import { selectTargets } from './select-targets.js';

function targets(count: number, extra: Partial<Target> = {}): Target[] {
  return Array.from({ length: count }, (_, i) => ({
    driver: 'docker' as const,
    id: `c${String(i).padStart(3, '0')}`,
    name: `web-${i}`,
    labels: { app: 'web' },
    agent: i % 2 === 0 ? 'host-a' : 'host-b',
    ...extra,
  }));
}

const mode = (text: string): Mode => {
  const parsed = parseMode(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('selectTargets', () => {
  it('never takes more than the mode allows, and at least one', () => {
    for (const available of [1, 2, 3, 7, 10]) {
      const pool = targets(available);
      expect(selectTargets(pool, mode('one'), 1)).toHaveLength(1);
      expect(selectTargets(pool, mode('all'), 1)).toHaveLength(available);
      expect(selectTargets(pool, mode('count:2'), 1)).toHaveLength(Math.min(2, available));
      expect(selectTargets(pool, mode('percent:50'), 1)).toHaveLength(Math.max(1, Math.floor(available / 2)));
      expect(selectTargets(pool, mode('percent:1'), 1)).toHaveLength(1);
    }
  });

  it('picks distinct targets', () => {
    const chosen = selectTargets(targets(10), mode('count:5'), 42);
    expect(new Set(chosen.map((t) => t.id)).size).toBe(5);
  });

  it('is reproducible from the seed whatever order agents answered in', () => {
    const pool = targets(10);
    const first = selectTargets(pool, mode('count:3'), 1234).map((t) => t.id);
    const shuffled = [...pool].reverse();
    expect(selectTargets(shuffled, mode('count:3'), 1234).map((t) => t.id)).toEqual(first);
    const others = new Set(
      [1, 2, 3, 4, 5].map((seed) =>
        selectTargets(pool, mode('count:3'), seed)
          .map((t) => t.id)
          .join(),
      ),
    );
    expect(others.size).toBeGreaterThan(1);
  });

  it('never picks a protected target, even with mode all', () => {
    const pool = [
      ...targets(3),
      ...targets(2, { labels: { app: 'web', 'simian.dev/protected': 'true' } }).map((t) => ({
        ...t,
        id: `p-${t.id}`,
      })),
    ];
    const chosen = selectTargets(pool, mode('all'), 1);
    expect(chosen).toHaveLength(3);
    expect(chosen.every((t) => !t.id.startsWith('p-'))).toBe(true);
    expect(
      selectTargets(
        pool.filter((t) => t.id.startsWith('p-')),
        mode('one'),
        1,
      ),
    ).toEqual([]);
  });

  it('spreads over candidates: every target gets chosen by some seed', () => {
    const pool = targets(4);
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) seen.add((selectTargets(pool, mode('one'), seed)[0] as Target).id);
    expect(seen.size).toBe(4);
  });
});

describe('targetCount', () => {
  it('rounds percent down but never below one, and zero when nothing is available', () => {
    expect(targetCount({ kind: 'percent', percent: 30 }, 10)).toBe(3);
    expect(targetCount({ kind: 'percent', percent: 33 }, 10)).toBe(3);
    expect(targetCount({ kind: 'percent', percent: 100 }, 7)).toBe(7);
    expect(targetCount({ kind: 'percent', percent: 10 }, 3)).toBe(1);
    expect(targetCount({ kind: 'all' }, 0)).toBe(0);
    expect(targetCount({ kind: 'count', count: 5 }, 0)).toBe(0);
  });
});
