'use strict';
/**
 * This machine's platform as the prebuilt packages name it (`linux-x64-gnu`, `darwin-arm64`,
 * `win32-x64-msvc`, …), and the prebuilt package of a platform. (postato and postato-testing ship
 * this same file: test.sh checks that the copies are equal.)
 */
function platform() {
  const { platform: os, arch } = process;
  if (os === 'linux') {
    // glibc reports its version; musl (Alpine) does not.
    const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (os === 'win32') return `win32-${arch}-msvc`;
  return `${os}-${arch}`;
}

/**
 * The package that carries the library of `pkg` (its package.json) for platform `name`:
 * `@postato/linux-x64-gnu` for postato, `@postato/testing-linux-x64-gnu` for postato-testing.
 */
function prebuiltPackage(pkg, name) {
  return `${pkg.platformPackagePrefix}${name}`;
}

module.exports = { platform, prebuiltPackage };
