// Three tiers, run together in one worker pool (npm test) or alone (npm run test:unit|test:medium|test:e2e):
// - unit: pure code, next to it in src/ (*.spec.ts); no database;
// - medium: a service or repository against the real database, no HTTP (test/medium/*.medium-spec.ts);
// - e2e: the whole app over HTTP (test/e2e/*.e2e-spec.ts).
// Every medium and e2e file works in a database of its own on the one server the global setup starts.
const transform = {
  '^.+\\.(t|j|mj)s$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2023',
      },
      module: { type: 'commonjs' },
    },
  ],
};

const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|agenda|@agendajs|libphonenumber-js|file-type)/)'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
};

module.exports = {
  testTimeout: 60000,
  // More workers than cores: much of an e2e file's time is waiting on the service's polls and the fakes.
  // On 2 cores, 4 workers take the suite from 644 s (in band) to 243 s (docs/decisions/0012).
  maxWorkers: Number(process.env.JEST_WORKERS) || Math.max(4, require('node:os').availableParallelism()),
  testSequencer: '<rootDir>/test/setup/slowest-first.sequencer.js',
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...shared, displayName: 'medium', testMatch: ['<rootDir>/test/medium/**/*.medium-spec.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
  ],
};
