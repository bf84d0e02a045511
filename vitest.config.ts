import { defineConfig } from 'vitest/config';

// The fast set: unit, property, vector and bounded simulation tests. Slow suites
// (`*.slow.test.ts`) run with `npm run test:slow`.
export default defineConfig({
  test: {
    include: [
      'src/**/*.test.ts',
      'sim/**/*.test.ts',
      'testers/**/*.test.ts',
      'test/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    exclude: ['**/*.slow.test.ts', 'node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
