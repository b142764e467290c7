'use strict';
/**
 * Loads this package's addon: the one built from source in this folder (`<binaryName>.<platform>.node`,
 * made by `npm install` in a checkout), else the prebuilt package of this platform (such as
 * `@postato/linux-x64-gnu`, an optional dependency of the published package that npm installs only
 * where it fits). (postato and postato-testing ship this same file: test.sh checks that the copies
 * are equal.)
 */
const { existsSync } = require('node:fs');
const path = require('node:path');
const { platform, prebuiltPackage } = require('./lib/platform');

function load() {
  const pkg = require('./package.json');
  const name = platform();
  const local = path.join(__dirname, `${pkg.napi.binaryName}.${name}.node`);
  if (existsSync(local)) return require(local);
  const prebuilt = prebuiltPackage(pkg, name);
  try {
    return require(prebuilt);
  } catch (error) {
    if (error?.code !== 'MODULE_NOT_FOUND' || !String(error.message).includes(prebuilt)) throw error;
  }
  throw new Error(
    `${pkg.name} has no native library for ${name}: install ${prebuilt} (npm adds it with ${pkg.name} where it ` +
      `is published), or build ${pkg.name} from a checkout with Rust (https://rustup.rs) and a C compiler`,
  );
}

module.exports = load();
