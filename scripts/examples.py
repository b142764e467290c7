#!/usr/bin/env python3
"""Runs every code block of the project's Markdown files as written.

Each fenced block is preceded by one line that says how it is checked, an HTML comment that
GitHub does not show:

    <!-- example: run -->                          run as written, with no server
    <!-- example: run against postato sim -->      run with a fresh `postato sim` started for it, and
                                                   POSTATO_BASE_URL, POSTATO_API_KEY (its test key) and
                                                   POSTATO_WORKSPACE_ID set to reach it
    <!-- example: ..., as crates/postato/examples/quickstart.rs -->
                                                   (Rust) the block is that file, which is what runs
    <!-- example: compile -->                      (Kotlin) compiled in tests/kotlin-consumer
    <!-- example: names -->                        (Swift) every name it calls is in the generated API
    <!-- example: not run: REASON -->              output, a picture, or a step for another machine

A block without that line fails the run, and so does a block that fails, and a relative link
that leads nowhere. Each runs in a fresh
directory that is also its HOME (a copy of examples/ in it), in a process group of its own,
killed whole after it ends or after two minutes.

    scripts/examples.py [FILE.md ...]     (every Markdown file in git when none is given)

Environment: POSTATO_BIN (the `postato` command; target/debug/postato), PYTHON (an interpreter
with the postato and postato-testing packages; python/.venv/bin/python), and for Kotlin the
jars installed in the local Maven repository (mvn install in kotlin/).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
POSTATO = Path(os.environ.get("POSTATO_BIN", TARGET / "debug" / "postato"))
PYTHON = os.environ.get("PYTHON", str(ROOT / "python" / ".venv" / "bin" / "python"))
TIMEOUT_S = 120
ANNOTATION = re.compile(r"^<!-- example: (.+) -->$")
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
TEST_KEY = "sk_test_postato"


@dataclass
class Block:
    file: str
    line: int
    language: str
    how: str
    code: str

    def where(self) -> str:
        return f"{self.file}:{self.line}"


class Failure(Exception):
    pass


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found, i = [], 0
    name = str(path.relative_to(ROOT))
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent, language = fence.group(1), fence.group(2)
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        annotation = ANNOTATION.match(lines[start - 1].strip()) if start > 0 else None
        if not annotation:
            raise Failure(
                f"{name}:{start + 1}: a ```{language} block with no line saying how it is checked "
                "(put <!-- example: run -->, <!-- example: run against postato sim -->, "
                "<!-- example: not run: REASON --> or another form scripts/examples.py lists on the line before it)"
            )
        found.append(Block(name, start + 1, language, annotation.group(1).strip(), "\n".join(body) + "\n"))
    return found


LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def broken_links(path: Path) -> list[str]:
    """Relative links of a Markdown file whose target is not in the repository."""
    name = str(path.relative_to(ROOT))
    broken = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        for target in LINK.findall(line):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            if not (path.parent / target.split("#")[0]).exists():
                broken.append(f"{name}:{number}: the link to {target} leads nowhere")
    return broken


def run(block: Block, argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> str:
    """Runs argv in its own process group, killed whole when it ends or times out."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(stdin, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise Failure(f"{block.where()}: still running after {TIMEOUT_S} s:\n{output}") from None
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if process.returncode != 0:
        raise Failure(f"{block.where()}: exit {process.returncode}:\n{output}")
    return output


class Simulator:
    """A `postato sim` of its own for one block."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [str(POSTATO), "--quiet", "sim"], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise Failure(f"postato sim printed {self.url!r} instead of its URL")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def environment(home: Path, sim: Simulator | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTATO_")}
    env.update(HOME=str(home), PATH=f"{POSTATO.parent}:{env.get('PATH', '')}", NO_COLOR="1")
    if sim:
        env.update(POSTATO_BASE_URL=sim.url, POSTATO_API_KEY=TEST_KEY, POSTATO_WORKSPACE_ID="ws_readme")
    return env


def node_project(home: Path) -> None:
    """`postato` and `postato-testing` resolvable from home, as npm installs them."""
    modules = home / "node_modules"
    modules.mkdir()
    (modules / "postato").symlink_to(ROOT / "node")
    (modules / "postato-testing").symlink_to(ROOT / "node" / "testing")


def run_block(block: Block, kotlin: list[Block]) -> tuple[str, str]:
    """How the block was checked (`run`, `compiled`, `names` or `not run`), and what it showed."""
    how = block.how
    if how.startswith("not run:"):
        reason = how.removeprefix("not run:").strip()
        if not reason:
            raise Failure(f"{block.where()}: `not run:` needs its reason")
        return "not run", reason
    if how == "compile":
        if block.language != "kotlin":
            raise Failure(f"{block.where()}: only Kotlin blocks are compiled without running")
        kotlin.append(block)
        return "compiled", "in tests/kotlin-consumer"
    if how == "names":
        return "names", check_swift_names(block)
    match = re.fullmatch(r"run( against postato sim)?(?:, as (\S+))?", how)
    if not match:
        raise Failure(f"{block.where()}: unknown way to check a block: {how!r}")
    with tempfile.TemporaryDirectory(prefix="postato-example-") as directory:
        home = Path(directory)
        shutil.copytree(ROOT / "examples", home / "examples")
        sim = Simulator() if match.group(1) else None
        try:
            env = environment(home, sim)
            output = run_language(block, match.group(2), home, env)
        finally:
            if sim:
                sim.stop()
    last = output.strip().splitlines()[-1] if output.strip() else "(no output)"
    return "run", f"ok: {last[:100]}"


def run_language(block: Block, source: str | None, home: Path, env: dict[str, str]) -> str:
    language = block.language
    if source:
        if language != "rust":
            raise Failure(f"{block.where()}: `as FILE` is for Rust blocks")
        written = (ROOT / source).read_text()
        if written != block.code:
            raise Failure(f"{block.where()}: the block is not {source} as it is (copy the file into the block)")
        name = Path(source).stem
        package = source.split("/")[1]
        manifest = str(ROOT / "Cargo.toml")
        cargo = ["cargo", "run", "--quiet", "--manifest-path", manifest, "-p", package, "--example", name]
        # Cargo's own home stays the user's (its registry cache); the example runs in the block's directory.
        return run(block, cargo, home, {**env, "HOME": os.environ.get("HOME", str(home)), "CARGO_TARGET_DIR": str(TARGET)})
    if language == "rust":
        raise Failure(f"{block.where()}: a Rust block runs as an example: say `, as crates/…/examples/NAME.rs`")
    if language == "sh":
        return run(block, ["sh", "-eu", "-c", block.code], home, env)
    if language == "python":
        (home / "example.py").write_text(block.code)
        return run(block, [PYTHON, "example.py"], home, env)
    if language in ("js", "javascript"):
        node_project(home)
        module = re.search(r"^import .* from '", block.code, re.MULTILINE) is not None
        script = home / ("example.mjs" if module else "example.cjs")
        script.write_text(block.code)
        return run(block, ["node", script.name], home, env)
    if language in ("json", "jsonl"):
        (home / "campaign.jsonl").write_text(block.code)
        return run(block, [str(POSTATO), "batch", "campaign.jsonl", "--store", "posts.db"], home, env)
    raise Failure(f"{block.where()}: no way to run a ```{language} block (say `not run: REASON`)")


SWIFT_WORDS = set(
    "let var try await async throws func final class print if else do catch return import for in while "
    "guard case self Task String Int Double Bool nil true false some any".split()
)


def check_swift_names(block: Block) -> str:
    """Every call, argument label and member the block names is in the generated Swift."""
    if block.language != "swift":
        raise Failure(f"{block.where()}: `names` is for Swift blocks")
    api = "\n".join(p.read_text() for p in (ROOT / "swift" / "Sources").rglob("*.swift"))
    known = set(re.findall(r"\w+", api))
    used = set(re.findall(r"\b([A-Za-z_]\w*)\s*(?=[(:])", block.code))
    used |= set(re.findall(r"\.([A-Za-z_]\w*)", block.code))
    used -= SWIFT_WORDS
    used -= set(re.findall(r"\b(?:class|struct|enum|func|let|var)\s+(\w+)", block.code))
    # Words inside string literals are the example's own text.
    strings = " ".join(re.findall(r'"[^"]*"', block.code))
    missing = sorted(n for n in used if n not in known and n not in strings)
    if missing:
        raise Failure(f"{block.where()}: not in the generated Swift API: {', '.join(missing)}")
    return f"{len(used)} names, each in the generated Swift API"


def compile_kotlin(blocks: list[Block]) -> None:
    """The Kotlin blocks, one file each (a package of its own), compiled in the consumer project."""
    if not blocks:
        return
    version = re.search(r'^version = "(.+)"$', (ROOT / "Cargo.toml").read_text(), re.MULTILINE)
    assert version
    with tempfile.TemporaryDirectory(prefix="postato-kotlin-") as directory:
        project = Path(directory) / "consumer"
        shutil.copytree(ROOT / "tests" / "kotlin-consumer", project, ignore=shutil.ignore_patterns("target"))
        for i, block in enumerate(blocks):
            source = project / "src" / "test" / "kotlin" / "readme" / f"Example{i}.kt"
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_text(f"package readme.example{i}\n\n{block.code}")
        mvn = ["mvn", "-B", "-ntp", "-q", "test-compile", f"-Dpostato.version={version.group(1)}"]
        run(blocks[0], mvn, project, dict(os.environ))
    for block in blocks:
        print(f"{block.where()} kotlin: compiled in tests/kotlin-consumer")


def main() -> int:
    files = [Path(f).resolve() for f in sys.argv[1:]] or [
        ROOT / f for f in subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"], cwd=ROOT, text=True, capture_output=True).stdout.split()
    ]
    counts: dict[str, int] = {}
    kotlin: list[Block] = []
    failures = []
    for path in files:
        failures += broken_links(path)
        try:
            blocks = blocks_of(path)
        except Failure as e:
            failures.append(str(e))
            continue
        for block in blocks:
            try:
                kind, shown = run_block(block, kotlin)
            except Failure as e:
                failures.append(str(e))
                continue
            counts[kind] = counts.get(kind, 0) + 1
            if kind != "compiled":
                print(f"{block.where()} {block.language}: {kind}: {shown}")
    try:
        compile_kotlin(kotlin)
    except Failure as e:
        failures.append(str(e))
        counts["compiled"] = 0
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(
        f"examples: {counts.get('run', 0)} run, {counts.get('compiled', 0)} compiled, {counts.get('names', 0)} "
        f"checked against the generated Swift, {counts.get('not run', 0)} not run (reasons above); {len(failures)} failed"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
