#!/usr/bin/env python3
"""Checks that dependencies point the way docs/architecture.md draws them.

  check-layout.py SOURCE_DIR [BIN_DIR]

1. Every #include "edgarpipe/<folder>/..." in ipc/, lib/ and apps/ names a folder its own folder
   may use (the table below, which mirrors the target_link_libraries of lib/*/CMakeLists.txt).
2. With BIN_DIR: the reader and parser executables need no database client library (readelf -d:
   what they call), nor are they linked with one (the link lines of BIN_DIR/../build.ninja: what
   CMake gives them, which the linker's --as-needed would otherwise hide); edgarpipe-writer
   needs SQLite's.
Prints one line per violation and exits 1 if there is any.
"""
import pathlib
import re
import subprocess
import sys

# What each folder (or, in stages/, each file) may include besides itself.
ALLOWED = {
    "ipc": set(),
    "core": set(),
    "batch": {"core"},
    "parse": {"core", "batch"},
    "input": {"ipc", "core", "batch", "parse"},
    "sink": {"core", "batch"},
    "stages": {"ipc", "core", "batch", "input"},
    "stages/parser_stage.cpp": {"ipc", "core", "batch", "input", "parse"},
    "stages/writer_stage.cpp": {"ipc", "core", "batch", "input", "sink"},
    "supervisor": {"ipc", "core", "batch", "input", "stages", "sink"},
    "cli": {"ipc", "core", "batch", "input", "parse", "stages", "sink", "supervisor"},
    "gen": {"core"},
}
APPS = {  # apps/<file>: the one folder whose entry point it calls
    "edgarpipe.cpp": {"cli"},
    "edgarpipe_reader.cpp": {"stages"},
    "edgarpipe_parser.cpp": {"stages"},
    "edgarpipe_writer.cpp": {"stages"},
    "edgarpipe_gen.cpp": {"gen"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"edgarpipe/(\w+)/', re.M)
DB_CLIENTS = ("libpq.so", "libsybdb.so", "libsqlite3.so")


def folder_of(root: pathlib.Path, path: pathlib.Path):
    rel = path.relative_to(root).parts
    if rel[0] == "ipc":
        return "ipc", "ipc"
    if rel[0] == "apps":
        return "apps", rel[-1]
    if rel[1] == "include":  # lib/include/edgarpipe/<folder>/x.hpp
        return rel[3], rel[3]
    folder = rel[1]
    return folder, f"{folder}/{rel[-1]}"


def check_includes(root: pathlib.Path):
    problems = []
    files = [p for d in ("ipc", "lib", "apps") for p in (root / d).rglob("*") if p.suffix in (".cpp", ".hpp")]
    for path in sorted(files):
        folder, key = folder_of(root, path)
        allowed = APPS.get(key, set()) if folder == "apps" else ALLOWED.get(key, ALLOWED.get(folder))
        if allowed is None:
            problems.append(f"{path.relative_to(root)}: folder '{folder}' is not in deploy/check-layout.py's table")
            continue
        text = path.read_text(encoding="utf-8")
        for m in INCLUDE.finditer(text):
            used = m.group(1)
            if used != folder and used not in allowed:
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{path.relative_to(root)}:{line}: includes edgarpipe/{used}/, "
                                f"which {key} may not use (allowed: {', '.join(sorted(allowed)) or 'none'})")
    return problems


def needed(binary: pathlib.Path):
    out = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def check_binaries(bin_dir: pathlib.Path):
    problems = []
    for stage in ("edgarpipe-reader", "edgarpipe-parser"):
        libs = needed(bin_dir / stage)
        for lib in libs:
            if lib.startswith(DB_CLIENTS):
                problems.append(f"{stage} links {lib}: a reader or parser must not link a database client")
    ninja = bin_dir.parent / "build.ninja"
    if ninja.exists():
        text = ninja.read_text(encoding="utf-8")
        for stage in ("edgarpipe-reader", "edgarpipe-parser"):
            m = re.search(r"^build bin/" + re.escape(stage) + r":.*?\n((?:  .*\n)*)", text, re.M)
            if not m:
                problems.append(f"build.ninja has no link step for bin/{stage}")
                continue
            for lib in re.findall(r"lib(?:pq|sybdb|sqlite3)\.(?:so|a)\b", m.group(1)):
                problems.append(f"{stage} is linked with {lib}: a reader or parser must not link a database client")
    if not any(lib.startswith("libsqlite3.so") for lib in needed(bin_dir / "edgarpipe-writer")):
        problems.append("edgarpipe-writer does not link libsqlite3: the check reads the wrong binaries")
    return problems


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[2].strip())
    root = pathlib.Path(sys.argv[1]).resolve()
    problems = check_includes(root)
    if len(sys.argv) == 3:
        problems += check_binaries(pathlib.Path(sys.argv[2]))
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print("layout: every include and executable follows docs/architecture.md")


if __name__ == "__main__":
    main()
