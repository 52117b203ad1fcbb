/** Unit and integration tests run from TypeScript sources through ts-jest (transpile only; `tsc -b` type-checks). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', isolatedModules: true } }] },
  testTimeout: 60000,
};
