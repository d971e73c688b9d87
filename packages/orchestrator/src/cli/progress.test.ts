import { stripVTControlCharacters } from 'node:util';
import type { Target } from '@simian/protocol';
import { describe, expect, it } from 'vitest';
import { describeFault, ProgressPrinter } from './progress.js';

function printer(): { printer: ProgressPrinter; lines: () => string[] } {
  let text = '';
  const created = new ProgressPrinter({ isTTY: false, write: (chunk) => (text += chunk) });
  return { printer: created, lines: () => stripVTControlCharacters(text).trimEnd().split('\n') };
}

const db = (id: string, address: string): Target => ({
  driver: 'docker',
  id,
  name: `db-${id}`,
  labels: { app: 'db' },
  zone: 'zone-b',
  agent: 'host-b',
  addresses: [address],
});

describe('ProgressPrinter', () => {
  it('shows how a network fault was made, and why a revert found the target gone', () => {
    const { printer: progress, lines } = printer();
    progress.handle({
      type: 'injected',
      runId: 'r',
      faultId: 'r/0/c1',
      fault: 'latency',
      target: 'web-1',
      agent: 'host-a',
      at: 1,
      mechanism: 'proxy+nftables (sch_netem is not in this kernel)',
    });
    progress.handle({
      type: 'reverted',
      runId: 'r',
      faultId: 'r/0/c1',
      target: 'web-1',
      at: 2,
      outcome: 'target-gone',
      reason: 'requested',
      detail: 'container c1 no longer exists; its network namespace went with it',
    });
    expect(lines()).toEqual([
      'injected latency → web-1 via proxy+nftables (sch_netem is not in this kernel) on host-a',
      'reverted web-1 target-gone (requested): container c1 no longer exists; its network namespace went with it',
    ]);
  });

  it('a dry run of a partition names the peers it would cut off', () => {
    const { printer: progress, lines } = printer();
    progress.printPlan({
      runId: 'r',
      experiment: 'web-cut-off-from-db',
      seed: 1,
      candidates: 2,
      targets: [
        {
          driver: 'docker',
          id: 'c1',
          name: 'web-1',
          labels: { app: 'web' },
          zone: 'zone-a',
          agent: 'host-a',
        },
      ],
      faults: [{ type: 'partition', to: { labels: { app: 'db' } }, peers: ['10.0.0.5', '10.0.0.6'] }],
      duration: '30s',
      partitions: [{ fault: 0, peers: [db('d1', '10.0.0.5'), db('d2', '10.0.0.6')] }],
    });
    expect(lines()).toEqual([
      'dry run of web-cut-off-from-db: nothing was touched',
      'targets 1 of 2 matching:',
      '  web-1 docker c1 on host-a (zone-a)',
      '  would apply partition(to={app=db}, peers=[10.0.0.5, 10.0.0.6]) for 30s',
      '    cutting the targets above off from 2 peer(s):',
      '      db-d1 10.0.0.5 on host-b (zone-b)',
      '      db-d2 10.0.0.6 on host-b (zone-b)',
    ]);
  });

  it('describes faults with lists and selectors readably', () => {
    expect(
      describeFault({
        type: 'latency',
        delay: '200ms',
        jitter: '0ms',
        direction: 'inbound',
        ports: [80, 443],
      }),
    ).toBe('latency(delay=200ms, jitter=0ms, direction=inbound, ports=[80, 443])');
    expect(describeFault({ type: 'zone-outage', zone: 'zone-a', mode: 'stop' })).toBe(
      'zone-outage(zone=zone-a, mode=stop)',
    );
    expect(describeFault({ type: 'pause' })).toBe('pause');
  });
});
