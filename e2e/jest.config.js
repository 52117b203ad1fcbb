/**
 * End-to-end tests, run from TypeScript sources through ts-jest (transpile only; the package's
 * `test` script type-checks with `tsc -p tsconfig.json` first). They start real daemons and
 * containers, so they run serially and get generous timeouts. The suites that only drive gantryd
 * through its API share one gantryd per run (`sharedGantryd` in src/gantryd.ts; globalSetup makes its
 * directory, globalTeardown stops it).
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.e2e.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', isolatedModules: true } }] },
  testTimeout: 60000,
  globalSetup: '<rootDir>/src/global-setup.ts',
  globalTeardown: '<rootDir>/src/global-teardown.ts',
};
