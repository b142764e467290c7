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
import select
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
# A CommonMark fence: up to 3 spaces, 3 or more backticks or tildes, an info string whose first
# word is the language. It closes on the same character, at least as many, and nothing else.
FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)[^`]*$")
# Fewer blocks than this means the files were not found, not that there are none.
FEWEST_BLOCKS = 30
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
        indent, marker, language = fence.group(1), fence.group(2), fence.group(3)
        start = i
        i += 1
        body = []
        closer = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        while i < len(lines) and not closer.match(lines[i]):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        if i == len(lines):
            raise Failure(f"{name}:{start + 1}: a ```{language} block that is never closed")
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


def run(block: Block, argv: list[str], cwd: Path, env: dict[str, str], timeout: int = TIMEOUT_S) -> str:
    """Runs argv in its own process group, killed whole when it ends or times out."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise Failure(f"{block.where()}: still running after {timeout} s:\n{output}") from None
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
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        self.url = self.process.stdout.readline().strip() if ready else ""
        if not self.url.startswith("http://"):
            self.stop()
            raise Failure(f"postato sim printed {self.url!r} instead of its URL")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def environment(home: Path, sim: Simulator | None, postgres: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTATO_")}
    env.update(HOME=str(home), PATH=f"{POSTATO.parent}:{env.get('PATH', '')}", NO_COLOR="1")
    if sim:
        env.update(POSTATO_BASE_URL=sim.url, POSTATO_API_KEY=TEST_KEY, POSTATO_WORKSPACE_ID="ws_readme")
    if postgres:
        url = os.environ.get("POSTATO_TEST_POSTGRES_URL")
        if not url:
            raise Failure("a block needs PostgreSQL: set POSTATO_TEST_POSTGRES_URL (scripts/postgres.sh prints one)")
        env["DATABASE_URL"] = url
    return env


def node_project(home: Path) -> None:
    """`postato`, `postato-testing` and OpenTelemetry resolvable from home, as npm installs them."""
    modules = home / "node_modules"
    modules.mkdir()
    (modules / "postato").symlink_to(ROOT / "node")
    (modules / "postato-testing").symlink_to(ROOT / "node" / "postato-testing")
    # The OpenTelemetry packages an application brings (the package's own dev dependencies):
    # the same files as postato's, so the API's global providers are shared.
    (modules / "@opentelemetry").symlink_to(ROOT / "node" / "node_modules" / "@opentelemetry")
    # The database driver the outbox examples enqueue through (a dev dependency of postato's).
    (modules / "pg").symlink_to(ROOT / "node" / "node_modules" / "pg")


def run_block(block: Block, kotlin: list[Block], shared: Simulator) -> tuple[str, str]:
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
    match = re.fullmatch(r"run( against postato sim)?( and PostgreSQL)?(?:, as (\S+))?", how)
    if not match:
        raise Failure(f"{block.where()}: unknown way to check a block: {how!r}")
    with tempfile.TemporaryDirectory(prefix="postato-example-") as directory:
        home = Path(directory)
        shutil.copytree(ROOT / "examples", home / "examples")
        try:
            env = environment(home, shared if match.group(1) else None, bool(match.group(2)))
        except Failure as e:
            raise Failure(f"{block.where()}: {e}") from None
        output = run_language(block, match.group(3), home, env)
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
        binary = TARGET / "debug" / "examples" / Path(source).stem
        if not binary.exists():
            raise Failure(f"{block.where()}: {binary} is not built (cargo build --workspace --examples)")
        return run(block, [str(binary)], home, env)
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
    "guard case self Task String Int Double Bool nil true false some any UInt16 UInt32 UInt64 assert precondition".split()
)
SWIFT_DECLARATION = re.compile(r"\b(?:func|init|case|var|let|class|struct|enum|protocol|typealias)\s+`?(\w+)")


def swift_api() -> tuple[set[str], set[str]]:
    """The generated Swift's declared names (types, functions, cases, properties) and the
    argument labels of its functions, initialisers and cases, comments left out."""
    names: set[str] = set()
    labels: set[str] = set()
    for source in (ROOT / "swift" / "Sources").rglob("*.swift"):
        code = re.sub(r"/\*.*?\*/", "", source.read_text(), flags=re.DOTALL)
        code = re.sub(r"//[^\n]*", "", code)
        names.update(SWIFT_DECLARATION.findall(code))
        for opening in re.finditer(r"\b(?:func\s+`?\w+`?|init\??|case\s+`?\w+`?)\s*(?:<[^>]*>)?\(", code):
            depth, at = 1, opening.end()
            while depth and at < len(code):
                depth += {"(": 1, ")": -1}.get(code[at], 0)
                at += 1
            parameters = code[opening.end() : at - 1]
            labels.update(re.findall(r"(?:^|,)\s*`?(\w+)`?\s*(?:`?\w+`?\s*)?:", parameters))
    return names, labels


def check_swift_names(block: Block) -> str:
    """Every type, function, case and member the block uses is declared in the generated Swift,
    and every argument label it passes is one of its labels."""
    if block.language != "swift":
        raise Failure(f"{block.where()}: `names` is for Swift blocks")
    names, labels = swift_api()
    # String literals are the example's own text, but what they interpolate is code.
    code = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: " ".join(re.findall(r"\\\((.*?)\)", m.group(0))), block.code)
    code = re.sub(r"//.*", "", code)
    own = set(re.findall(r"\b(?:class|struct|enum|func|let|var)\s+(\w+)", code))
    called = set(re.findall(r"\b([A-Za-z_]\w*)\s*\(", code)) | set(re.findall(r"\.([A-Za-z_]\w*)", code))
    passed = set(re.findall(r"[(,]\s*([A-Za-z_]\w*)\s*:", code))
    missing = sorted(n for n in called - SWIFT_WORDS - own if n not in names)
    missing += sorted(f"{n}:" for n in passed - own if n not in labels)
    if missing:
        raise Failure(f"{block.where()}: not in the generated Swift API: {', '.join(missing)}")
    return f"{len(called | passed)} names and labels, each in the generated Swift API"


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
        run(blocks[0], mvn, project, dict(os.environ), timeout=600)
    for block in blocks:
        print(f"{block.where()} kotlin: compiled in tests/kotlin-consumer")


def markdown_files() -> list[Path]:
    """Every Markdown file in git (and new ones not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    )
    return [ROOT / f for f in listed.stdout.split()]


def main() -> int:
    everything = len(sys.argv) == 1
    files = markdown_files() if everything else [Path(f).resolve() for f in sys.argv[1:]]
    counts: dict[str, int] = {}
    kotlin: list[Block] = []
    failures = []
    # One simulator for every block that needs one, as a user runs one quickstart after another:
    # two blocks that publish one business key with different content fail (422).
    shared = Simulator()
    try:
        for path in files:
            failures += broken_links(path)
            try:
                blocks = blocks_of(path)
            except Failure as e:
                failures.append(str(e))
                continue
            for block in blocks:
                try:
                    kind, shown = run_block(block, kotlin, shared)
                except Failure as e:
                    failures.append(str(e))
                    continue
                counts[kind] = counts.get(kind, 0) + 1
                if kind != "compiled":
                    print(f"{block.where()} {block.language}: {kind}: {shown}")
    finally:
        shared.stop()
    try:
        compile_kotlin(kotlin)
    except Failure as e:
        failures.append(str(e))
        counts["compiled"] = 0
    checked = sum(counts.values())
    if everything and checked + len(failures) < FEWEST_BLOCKS:
        failures.append(f"only {checked} blocks found: expected at least {FEWEST_BLOCKS} (is this a git checkout?)")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(
        f"examples: {counts.get('run', 0)} run, {counts.get('compiled', 0)} compiled, {counts.get('names', 0)} "
        f"checked against the generated Swift, {counts.get('not run', 0)} not run (reasons above); {len(failures)} failed"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
