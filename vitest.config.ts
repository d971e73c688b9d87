import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; spawned CLI processes use the built dist.
    alias: {
      '@simian/protocol': src('protocol'),
      '@simian/agent': src('agent'),
      '@simian/orchestrator': src('orchestrator'),
    },
  },
  test: {
    // The JSON report lets .ci/run print one plain "N passed, N failed" line at the end.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Docker end-to-end files share one engine; two cores do not gain from more workers.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
