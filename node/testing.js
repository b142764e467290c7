'use strict';
/**
 * `postato/testing`: the test kit, shipped as its own package (`npm install --save-dev
 * postato-testing`) so that the simulator is never part of the addon production code loads.
 * This entry point re-exports it for tests written against `postato/testing`.
 */
let testing;
try {
  testing = require('postato-testing');
} catch (error) {
  if (error.code !== 'MODULE_NOT_FOUND') throw error;
  throw new Error('postato/testing needs the test kit, a package of its own: npm install --save-dev postato-testing', {
    cause: error,
  });
}
module.exports = testing;
