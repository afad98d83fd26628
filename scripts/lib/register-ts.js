'use strict';
// Lets plain node require .ts files (the reliability suite, the config page generator): each file is compiled
// in memory with swc, the transform jest uses, so neither needs a build step.
const { readFileSync } = require('node:fs');

function registerTypeScript({ sourceMaps = false } = {}) {
  const { transformSync } = require('@swc/core');
  require.extensions['.ts'] = (module, filename) => {
    const { code } = transformSync(readFileSync(filename, 'utf8'), {
      filename,
      ...(sourceMaps ? { sourceMaps: 'inline' } : {}),
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    });
    module._compile(code, filename);
  };
}

module.exports = { registerTypeScript };
