'use strict';
/**
 * `npm install` of this package from a checkout (`npm install ./node`): builds the addon from
 * source when the sources and a Rust toolchain are here (cargo only rebuilds what changed), with
 * the napi CLI fetched by npx (pinned: a linked folder has no node_modules of its own when this
 * runs); else there is nothing to do if a library fits this platform (one built here before, or
 * its prebuilt package); else it says in one sentence what to install, and fails. Published
 * packages carry no install script (scripts/prepublish.js removes it): they load their platform
 * package. (postato and postato-testing ship this same file: test.sh checks that the copies are
 * equal.)
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

/** npx as the running npm has it (npx-cli.js beside npm-cli.js), else from PATH. */
function npx(args) {
  const npmCli = process.env.npm_execpath;
  const npxCli = npmCli && path.join(path.dirname(npmCli), 'npx-cli.js');
  if (npxCli && existsSync(npxCli))
    return spawnSync(process.execPath, [npxCli, ...args], { cwd: root, stdio: 'inherit' });
  return spawnSync('npx', args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
}

// The crate is named in package.json's build:debug script (the same build, without --release).
const manifestArg = /--manifest-path (\S+)/.exec(pkg.scripts?.['build:debug'] ?? '');
const manifest = manifestArg && path.join(root, manifestArg[1]);
const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' });
if (manifest && existsSync(manifest) && cargo.status === 0) {
  const args = ['--yes', '--package', NAPI_CLI, 'napi', 'build', '--platform', '--release'];
  args.push('--manifest-path', manifest, '--output-dir', root, '--no-js', '--dts', 'native.d.ts');
  const build = npx(args);
  if (build.error) console.error(`${pkg.name}: could not run npx to build the addon: ${build.error.message}`);
  process.exit(build.status ?? 1);
}
if (existsSync(path.join(root, `${pkg.napi.binaryName}.${name}.node`)) || resolvable(prebuilt)) process.exit(0);
console.error(
  `${pkg.name}: no prebuilt native library for ${name} (${prebuilt}) and no way to build one here: install ` +
    `${prebuilt}, or install Rust (https://rustup.rs) and a C compiler and install ${pkg.name} from a checkout`,
);
process.exit(1);
