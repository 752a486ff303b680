import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Suites that need servers say what they skipped; keep the report readable.
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
