'use strict';
/**
 * `npm install` of this package: nothing to do when a native library fits this platform (its
 * prebuilt package, or one built here before); else, in a checkout with a Rust toolchain, build it
 * from source with the napi CLI (fetched by npx, pinned: a linked folder has no node_modules of
 * its own when this runs); else say in one sentence what to install, and fail. (postato and
 * postato-testing ship this same file: test.sh checks that the copies are equal.)
 */
const { existsSync } = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { platform, prebuiltPackage } = require('../lib/platform');

const NAPI_CLI = '@napi-rs/cli@3.10.12';
const root = path.join(__dirname, '..');
const pkg = require('../package.json');
const name = platform();
const prebuilt = prebuiltPackage(pkg, name);

function resolvable(id) {
  try {
    require.resolve(id, { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

if (existsSync(path.join(root, `${pkg.napi.binaryName}.${name}.node`)) || (prebuilt && resolvable(prebuilt))) {
  process.exit(0);
}
// The crate is named in package.json's build:debug script (the same build, without --release).
const manifest = path.join(root, pkg.scripts['build:debug'].match(/--manifest-path (\S+)/)[1]);
const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
if (!existsSync(manifest) || cargo.status !== 0) {
  console.error(
    `${pkg.name}: no prebuilt native library for ${name}${prebuilt ? ` (${prebuilt})` : ''} and no way to build ` +
      `one here: install ${prebuilt ?? 'it on a supported platform'}, or install Rust (https://rustup.rs) and a ` +
      `C compiler and install ${pkg.name} from a checkout`,
  );
  process.exit(1);
}
const args = ['--yes', '--package', NAPI_CLI, 'napi', 'build', '--platform', '--release'];
args.push('--manifest-path', manifest, '--output-dir', root, '--no-js', '--dts', 'native.d.ts');
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const build = spawnSync(npx, args, { cwd: root, stdio: 'inherit' });
process.exit(build.status ?? 1);
