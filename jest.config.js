/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/__test__/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  // The tests import the package by its name, as users do.
  moduleNameMapper: { '^@auto-engineer/message-store$': '<rootDir>/index.js' },
  testTimeout: 60000,
  // One throwaway PostgreSQL for the PostgresMessageStore tests (or DATABASE_URL's).
  globalSetup: '<rootDir>/__test__/support/postgres-setup.mjs',
  globalTeardown: '<rootDir>/__test__/support/postgres-teardown.mjs',
};
