import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 20_000,
    // Test files mostly wait (servers, child processes, the database), so files run in parallel
    // even on 2 cores; Vitest's default (cores - 1) would run them one by one there.
    maxWorkers: Math.max(2, availableParallelism()),
    // Setup may create an embedded database or start servers: generous, it only guards against hangs.
    hookTimeout: 180_000,
    // Suites that need servers say what they skipped; keep the report readable.
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
