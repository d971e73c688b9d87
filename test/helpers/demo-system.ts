/** Types of demo/system.mjs, which is plain JavaScript without declarations. */
export interface DemoSystem {
  lbUrl: string;
  lbPort: number;
  replicas: Array<{ pid: number; name: string; zone: string; port: number }>;
  stop(): Promise<void>;
}

export async function startDemoSystem(options: {
  lbPort?: number;
  replicas?: number;
  app?: string;
}): Promise<DemoSystem> {
  // A non-literal specifier keeps tsc from looking for declarations of the .mjs file.
  const specifier = new URL('../../demo/system.mjs', import.meta.url).href;
  const mod = (await import(specifier)) as { startDemoSystem: (o: typeof options) => Promise<DemoSystem> };
  return mod.startDemoSystem(options);
}
