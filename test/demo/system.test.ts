import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { assertNoLeftovers } from '../helpers/leftovers.js';

interface DemoSystem {
  lbUrl: string;
  lbPort: number;
  replicas: { pid: number; name: string; zone: string; port: number }[];
  stop(): Promise<void>;
}
interface SystemModule {
  startDemoSystem(options?: { lbPort?: number; replicas?: number }): Promise<DemoSystem>;
}

// A non-literal specifier: demo/*.mjs is plain JavaScript without type declarations.
const systemModule = new URL('../../demo/system.mjs', import.meta.url).href;
const { startDemoSystem } = (await import(systemModule)) as SystemModule;

/** Pids of this process's children running demo/service.mjs. */
function serviceChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (ppid === process.pid && cmdline.includes('demo/service.mjs')) pids.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

function labelsOf(pid: number): string | undefined {
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return environ.find((line) => line.startsWith('SIMIAN_LABELS='))?.slice('SIMIAN_LABELS='.length);
}

async function get(url: string) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

describe('demo system', () => {
  it('starts labelled replicas behind the balancer and stops them all, paused ones too', async () => {
    const system = await startDemoSystem({ lbPort: 0 });
    const pids = system.replicas.map((r) => r.pid);
    try {
      expect(system.replicas.map(({ name, zone }) => ({ name, zone }))).toEqual([
        { name: 'web-1', zone: 'zone-a' },
        { name: 'web-2', zone: 'zone-b' },
        { name: 'web-3', zone: 'zone-a' },
      ]);
      expect(system.lbUrl).toBe(`http://127.0.0.1:${system.lbPort}`);
      expect(labelsOf(pids[0] as number)).toBe('app=demo-web,simian.dev/zone=zone-a,simian.dev/name=web-1');
      expect(labelsOf(pids[1] as number)).toBe('app=demo-web,simian.dev/zone=zone-b,simian.dev/name=web-2');

      const bodies = [];
      for (let i = 0; i < 3; i++) bodies.push((await get(`${system.lbUrl}/`)).body.trim());
      expect(bodies.sort()).toEqual(['hello from web-1', 'hello from web-2', 'hello from web-3']);
      for (const replica of system.replicas) {
        expect(await get(`http://127.0.0.1:${replica.port}/health`)).toEqual({
          status: 200,
          body: `ok ${replica.name}\n`,
        });
      }

      // One replica killed: the balancer keeps answering.
      process.kill(pids[0] as number, 'SIGKILL');
      for (let i = 0; i < 6; i++) expect((await get(`${system.lbUrl}/health`)).status).toBe(200);

      // A paused replica must not survive stop().
      process.kill(pids[1] as number, 'SIGSTOP');
    } finally {
      await system.stop();
    }
    await assertNoLeftovers({ pids, graceMs: 0 });
    expect(serviceChildren()).toEqual([]);
  });

  it('fails clearly when the balancer port is in use and leaves no replica behind', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    try {
      await expect(startDemoSystem({ lbPort: address.port, replicas: 2 })).rejects.toThrow(
        `demo: the load balancer port ${address.port} on 127.0.0.1 is already in use`,
      );
      expect(serviceChildren()).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
