'use strict';
/**
 * `postato/testing`: the test kit, shipped as its own package (`npm install --save-dev
 * postato-testing`) so that the simulator is never part of the addon production code loads.
 * This entry point re-exports it for tests written against `postato/testing`.
 */
/**
 * The test kit as this package resolves it; else as the running project does (postato linked
 * from a checkout, `npm install ./node`, resolves from its own folder, where the project's
 * test kit is not).
 */
function load() {
  try {
    return require('postato-testing');
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND') throw error;
    try {
      return require(require.resolve('postato-testing', { paths: [process.cwd()] }));
    } catch {
      throw new Error(
        'postato/testing needs the test kit, a package of its own: npm install --save-dev postato-testing',
        { cause: error },
      );
    }
  }
}

module.exports = load();
