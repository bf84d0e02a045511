import { defineConfig } from 'vitest/config';

// Long simulations, opt-in: `npm run test:slow`.
export default defineConfig({
  test: {
    include: ['**/*.slow.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 30 * 60_000,
    pool: 'forks',
  },
});
