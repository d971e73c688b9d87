import type { Target } from '@simian/protocol';
import { describe, expect, it } from 'vitest';
import { type Mode, parseMode, targetCount } from '../experiments/mode.js';
import { candidateSelector, resolvePartitionPeers, selectTargets, zoneOutageOf } from './select-targets.js';

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

describe('zone outages', () => {
  const outage = { type: 'zone-outage', zone: 'zone-a', mode: 'stop' } as const;

  it('narrow the selector to their zone', () => {
    expect(candidateSelector({ labels: { app: 'web' } }, [outage])).toEqual({
      labels: { app: 'web' },
      zone: 'zone-a',
    });
    expect(zoneOutageOf([outage])).toBe(outage);
  });

  it('leave the selector alone otherwise', () => {
    const selector = { labels: { app: 'web' }, zone: 'zone-b' };
    expect(candidateSelector(selector, [{ type: 'pause' }])).toBe(selector);
    expect(zoneOutageOf([{ type: 'pause' }])).toBeUndefined();
  });
});

describe('resolvePartitionPeers', () => {
  const partition = { type: 'partition', to: { labels: { app: 'db' } } } as const;
  const web = targets(2).map((t, i) => ({ ...t, addresses: [`10.0.1.${i + 1}`] }));
  const db = (id: string, extra: Partial<Target> = {}): Target => ({
    driver: 'docker',
    id,
    name: `db-${id}`,
    labels: { app: 'db' },
    agent: 'host-c',
    addresses: [`10.0.2.${id.length}`],
    ...extra,
  });

  it('collects the addresses of every matching target, once each, in a stable order', () => {
    const listed = [
      db('d2', { addresses: ['10.0.2.2', '10.0.3.2'] }),
      db('d1', { agent: 'host-b', addresses: ['10.0.2.1'] }),
      db('d3', { addresses: ['10.0.2.2'] }),
      db('p1', { labels: { app: 'db', 'simian.dev/protected': 'true' }, addresses: ['10.0.9.9'] }),
      db('x1', { labels: { app: 'cache' }, addresses: ['10.0.8.8'] }),
    ];
    const peers = resolvePartitionPeers(partition, web, listed, ['host-b', 'host-c']);
    expect(peers.targets.map((t) => t.id)).toEqual(['d1', 'd2', 'd3']);
    expect(peers.addresses).toEqual(['10.0.2.1', '10.0.2.2', '10.0.3.2']);
  });

  it('refuses a to side that matches nothing', () => {
    expect(() => resolvePartitionPeers(partition, web, [], ['host-a', 'host-b'])).toThrow(
      expect.objectContaining({
        code: 'SIMIAN_NO_TARGETS',
        message:
          'partition to {app=db} matched no target on 2 agent(s): host-a, host-b; nothing was injected',
      }),
    );
  });

  it('refuses peers without an address: they could not be cut off', () => {
    expect(() =>
      resolvePartitionPeers(
        partition,
        web,
        [db('d1'), db('d2', { addresses: [] }), db('d3', { addresses: undefined })],
        ['host-c'],
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'SIMIAN_PARTITION_NO_ADDRESSES',
        message:
          'partition to {app=db}: db-d2 on host-c, db-d3 on host-c report no IPv4 address, so traffic to them cannot be cut off; nothing was injected',
      }),
    );
  });

  it('refuses a target on both sides, by id or by a shared address', () => {
    const [first, second] = web as [Target, Target];
    const both = { ...first, labels: { app: 'db' } };
    expect(() => resolvePartitionPeers(partition, [both, second], [both, db('d1')], ['host-a'])).toThrow(
      expect.objectContaining({
        code: 'SIMIAN_PARTITION_OVERLAP',
        message: expect.stringContaining('web-0 on host-a'),
      }),
    );
    const sharing = db('d1', { addresses: second.addresses ?? [] });
    expect(() => resolvePartitionPeers(partition, web, [sharing], ['host-c'])).toThrow(
      expect.objectContaining({
        code: 'SIMIAN_PARTITION_OVERLAP',
        message:
          'partition to {app=db}: web-1 on host-b would be on both sides of the partition (chosen by spec.target.selector and matched by to, or sharing an address with a peer); nothing was injected',
      }),
    );
  });
});
