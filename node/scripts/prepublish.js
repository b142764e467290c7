'use strict';
/**
 * Makes a package folder (postato's or postato-testing's, given as the argument) what the
 * registry serves, as napi's prepublish does: every platform package under its `npm/` folder
 * becomes an optional dependency at the same version, and the install script (which builds from
 * source in a checkout) is dropped. Run by the release workflow before `npm publish`, and by
 * scripts/test.sh on a copy before `npm pack`. Never shipped.
 */
const fs = require('node:fs');
const path = require('node:path');

const dir = path.resolve(process.argv[2] ?? '.');
const file = path.join(dir, 'package.json');
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
const platforms = path.join(dir, 'npm');
pkg.optionalDependencies = {};
for (const entry of fs.readdirSync(platforms).sort()) {
  const platformPkg = JSON.parse(fs.readFileSync(path.join(platforms, entry, 'package.json'), 'utf8'));
  if (platformPkg.version !== pkg.version) {
    throw new Error(`${platformPkg.name} is at ${platformPkg.version}, ${pkg.name} at ${pkg.version}`);
  }
  pkg.optionalDependencies[platformPkg.name] = pkg.version;
}
delete pkg.scripts.install;
pkg.files = pkg.files.filter((f) => f !== 'scripts/install.js');
fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
console.log(`${pkg.name}: ${Object.keys(pkg.optionalDependencies).length} platform packages, no install script`);
