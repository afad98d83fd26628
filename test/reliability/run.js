#!/usr/bin/env node
'use strict';
// Entry point of `npm run test:reliability`: the suite is TypeScript (it reuses test/fakes), compiled on
// load with swc, the same transform jest uses, so no build step is needed for the suite itself.
const { readFileSync } = require('node:fs');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};

require('./runner.ts')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error) => {
    process.stderr.write(`reliability runner crashed: ${error && error.stack ? error.stack : error}\n`);
    process.exit(2);
  });
