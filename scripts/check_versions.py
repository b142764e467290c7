#!/usr/bin/env python3
"""Checks that every artifact carries the one version of the project. The version lives in
one place: `[workspace.package] version` in the root Cargo.toml. Checked against it:
  - every crate under crates/ and bindings/ (`version.workspace = true`, or that version),
    and the workspace members' entries in Cargo.lock;
  - every path dependency between the crates that carries a `version = "..."` (in the root
    [workspace.dependencies] and in each crate), which must pin that version;
  - python/pyproject.toml, python/testing/pyproject.toml and python/cli/pyproject.toml
    (`[project] version`), and any requirement of one on postato or postato-testing
    (`==X.Y.Z`);
  - every package.json under node/ (node_modules left out): its `version`, and any
    dependency, optionalDependency or peerDependency on postato, postato-testing or
    @postato/* (exactly X.Y.Z); node/package-lock.json's own entries;
  - kotlin/pom.xml's project <version>.
Prints one line per disagreement (file, what it found, what it expected) and exits 1, or
prints `versions: all artifacts at X.Y.Z`. With `--tag vX.Y.Z` (a git tag, `refs/tags/`
allowed), the tag must be `v` + that version too. Needs python3 (3.11+, for tomllib) only.
  python3 scripts/check_versions.py  (or ./scripts/check-versions.sh) [--tag vX.Y.Z]
"""

import glob
import json
import os
import re
import sys

try:
    import tomllib
except ImportError:
    sys.exit(f"scripts/check-versions.sh needs Python 3.11 or newer (tomllib); this is {sys.version.split()[0]}")
import xml.etree.ElementTree as ET

args = sys.argv[1:]
tag = None
while args:
    arg = args.pop(0)
    if arg == "--tag" and args:
        tag = args.pop(0)
    elif arg.startswith("--tag="):
        tag = arg[len("--tag=") :]
    else:
        print("usage: scripts/check-versions.sh [--tag vX.Y.Z]", file=sys.stderr)
        sys.exit(2)

problems = []


def problem(path, what, found, expected):
    problems.append(f"{path}: {what} is {found!r}, expected {expected!r}")


def load_toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


root = load_toml("Cargo.toml")
version = root.get("workspace", {}).get("package", {}).get("version")
if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", version):
    print(
        f"Cargo.toml: [workspace.package] version is {version!r}, expected a version X.Y.Z (the one place of the version)"
    )
    sys.exit(1)

# The tag.
if tag is not None:
    name = tag.removeprefix("refs/tags/")
    if name != f"v{version}":
        problem("git tag", "the tag", name, f"v{version}")

# Crates: the workspace's members and every crate under crates/ and bindings/.
crate_dirs = set(root.get("workspace", {}).get("members", []))
crate_dirs |= {os.path.dirname(p) for p in glob.glob("crates/*/Cargo.toml") + glob.glob("bindings/*/Cargo.toml")}
member_names = set()


def version_pin_ok(spec):
    # A path dependency's version must pin this release: "X.Y.Z" or "=X.Y.Z".
    return spec in (version, f"={version}")


def check_path_deps(path, table, where):
    for name, dep in (table or {}).items():
        if isinstance(dep, dict) and "path" in dep and "version" in dep and not version_pin_ok(dep["version"]):
            problem(path, f"{where}.{name} version (a path dependency)", dep["version"], version)


for d in sorted(crate_dirs):
    path = os.path.join(d, "Cargo.toml")
    if not os.path.exists(path):
        problem(path, "the crate manifest", "missing", "a workspace member")
        continue
    manifest = load_toml(path)
    package = manifest.get("package", {})
    member_names.add(package.get("name"))
    v = package.get("version")
    if v != {"workspace": True} and v != version:
        found = "version.workspace = true" if v == {"workspace": True} else v
        problem(
            path,
            "[package] version",
            found if found is not None else "missing",
            f"version.workspace = true (or {version})",
        )
    for section in ("dependencies", "dev-dependencies", "build-dependencies"):
        check_path_deps(path, manifest.get(section), section)
    for target, tables in manifest.get("target", {}).items():
        for section in ("dependencies", "dev-dependencies", "build-dependencies"):
            check_path_deps(path, tables.get(section), f"target.{target}.{section}")
check_path_deps("Cargo.toml", root.get("workspace", {}).get("dependencies"), "workspace.dependencies")

if os.path.exists("Cargo.lock"):
    for pkg in load_toml("Cargo.lock").get("package", []):
        if pkg.get("name") in member_names and "source" not in pkg and pkg.get("version") != version:
            problem("Cargo.lock", f"{pkg['name']} version", pkg.get("version"), version)

# Python: the three packages, and any requirement of one on another.
REQ = re.compile(r"^\s*(postato|postato[-_.]testing)\s*(\[[^\]]*\])?\s*(.*?)\s*(;.*)?$", re.IGNORECASE)
for path in ("python/pyproject.toml", "python/testing/pyproject.toml", "python/cli/pyproject.toml"):
    if not os.path.exists(path):
        problem(path, "the file", "missing", f"a package at {version}")
        continue
    project = load_toml(path).get("project", {})
    v = project.get("version")
    if v != version:
        found = "dynamic" if v is None and "version" in project.get("dynamic", []) else v
        problem(path, "[project] version", found if found is not None else "missing", version)
    reqs = list(project.get("dependencies", []))
    for extra, extra_reqs in project.get("optional-dependencies", {}).items():
        reqs += extra_reqs
    for req in reqs:
        m = REQ.match(req)
        if m and m.group(3).replace(" ", "") != f"=={version}":
            problem(path, f"the requirement {req!r}", m.group(3) or "unpinned", f"=={version}")

# Node: every package.json under node/.
OURS = re.compile(r"^(postato|postato-testing|@postato/.+)$")
package_jsons = []
for dirpath, dirnames, filenames in os.walk("node"):
    dirnames[:] = sorted(d for d in dirnames if d != "node_modules")
    if "package.json" in filenames:
        package_jsons.append(os.path.join(dirpath, "package.json"))
if not package_jsons:
    problem("node/", "package.json files", "none", "node/package.json at least")
for path in package_jsons:
    with open(path) as f:
        pkg = json.load(f)
    if pkg.get("version") != version:
        problem(path, "version", pkg.get("version", "missing"), version)
    for section in ("dependencies", "optionalDependencies", "peerDependencies"):
        for name, spec in (pkg.get(section) or {}).items():
            if OURS.match(name) and spec != version:
                problem(path, f"{section}.{name}", spec, version)

# The lock file's own entries (the root package and the local ones), which npm rewrites from
# the package.json files: a stale one means `npm install` was not run after a bump.
lock_path = "node/package-lock.json"
if os.path.exists(lock_path):
    with open(lock_path) as f:
        lock = json.load(f)
    if lock.get("version") != version:
        problem(lock_path, "version", lock.get("version"), version)
    for key, entry in lock.get("packages", {}).items():
        if key.startswith("node_modules/") or "/node_modules/" in key or entry.get("link"):
            continue
        if OURS.match(entry.get("name", "postato")) and entry.get("version") != version:
            problem(lock_path, f"packages[{key!r}].version", entry.get("version"), version)

# Kotlin: the Maven project's own version (not a dependency's, not the parent's).
pom_path = "kotlin/pom.xml"
pom = ET.parse(pom_path).getroot()
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
node = pom.find("m:version", ns)
if node is None:
    node = pom.find("version")
found = node.text.strip() if node is not None and node.text else None
if found != version:
    problem(pom_path, "project <version>", found if found is not None else "missing", version)

if problems:
    for line in problems:
        print(line)
    print(f"versions: {len(problems)} disagreement(s) with {version} (Cargo.toml [workspace.package] version)")
    sys.exit(1)
print(f"versions: all artifacts at {version}" + (f" (tag v{version})" if tag is not None else ""))
