import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Starting Ceph the first time installs packages and boots a cluster.
    hookTimeout: 600_000,
    reporters: ['default'],
  },
});
