#!/usr/bin/env node
'use strict';
// Entry point of `npm run test:reliability`: the suite is TypeScript (it reuses test/fakes), compiled on
// load with swc, the same transform jest uses, so no build step is needed for the suite itself.
require('../../scripts/lib/register-ts').registerTypeScript({ sourceMaps: true });

require('./runner.ts')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error) => {
    process.stderr.write(`reliability runner crashed: ${error && error.stack ? error.stack : error}\n`);
    process.exit(2);
  });
