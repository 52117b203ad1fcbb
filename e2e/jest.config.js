/**
 * End-to-end tests, run from TypeScript sources through ts-jest (transpile only; the package's
 * `test` script type-checks with `tsc -p tsconfig.json` first). They start real daemons and
 * containers and get generous timeouts. The `test` script runs two files at a time (two jest
 * workers): every suite names what it makes (directories, networks, subnets, bridges, containers)
 * uniquely, so any two can run side by side. The suites that only drive gantryd through its API
 * share one gantryd per worker (`sharedGantryd` in src/gantryd.ts; globalSetup makes their
 * directory, globalTeardown stops them).
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
