#!/usr/bin/env python3
"""Writes the edgarpipe(1) man page from the commands' own --help texts, so the page and the
help never disagree (tests/integration/docs_test.py checks docs/edgarpipe.1 against this).

Usage: docs/make-manpage.py BIN_DIR > docs/edgarpipe.1
"""
import os
import re
import subprocess
import sys

COMMANDS = ["run", "fetch", "sync", "status", "rejects", "schema", "asof", "frame", "tune", "cleanup"]

# What no --help says: where secrets and settings come from, and where to read more.
ENVIRONMENT = [
    ("EDGARPIPE_USER_AGENT", "the User-Agent of fetch and sync when --user-agent is not given"),
    ("PGPASSWORD, ~/.pgpass", "the PostgreSQL password (libpq's own ways)"),
    ("EDGARPIPE_MSSQL_PASSWORD", "the SQL Server password"),
    ("EDGARPIPE_LOG", "set by edgarpipe for the processes it starts (-q, -v, --log-format); not for users"),
]


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def help_text(bin_dir, *args):
    return subprocess.run([os.path.join(bin_dir, "edgarpipe"), *args, "--help"], capture_output=True, text=True,
                          check=True).stdout


OPTION = re.compile(r"^  (-\S.*?)(?:\s{2,}(\S.*))?$")


def body(text):
    """The --help text after its usage line: paragraphs, option lists, exit status, example."""
    out = []
    lines = text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = OPTION.match(line)
        if m:
            desc = [m.group(2)] if m.group(2) else []
            while i + 1 < len(lines) and re.match(r"^\s{8,}\S", lines[i + 1]) and not OPTION.match(lines[i + 1]):
                i += 1
                desc.append(lines[i].strip())
            out += [".TP", roff(m.group(1).strip()), roff(" ".join(desc))]
        elif line.startswith("example: "):
            out += [".PP", "Example:", ".PP", ".RS", ".nf", roff(line[len("example: "):]), ".fi", ".RE"]
        elif line.startswith("exit status: "):
            para = [line[len("exit status: "):]]
            while i + 1 < len(lines) and lines[i + 1].startswith(" "):
                i += 1
                para.append(lines[i].strip())
            out += [".PP", "Exit status: " + roff(" ".join(para))]
        elif line.strip() == "" or line == "options:":
            pass
        elif line.endswith(":") and not line.startswith(" "):  # "Options of every command:"
            out += [".SS", roff(line[:-1])]
        elif line.startswith("  "):  # the overview's command list
            name, _, desc = line.strip().partition("  ")
            out += [".TP", roff(name.strip()), roff(desc.strip())]
        else:
            para = [line]
            while i + 1 < len(lines) and lines[i + 1].strip() and not lines[i + 1].startswith(("  ", "example: ")):
                i += 1
                para.append(lines[i])
            out += [".PP", roff(" ".join(para))]
        i += 1
    return out


def main():
    bin_dir = sys.argv[1]
    version = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]
    overview = help_text(bin_dir).split("\n")
    # "edgarpipe: loads ...", "", "usage: ...", "", command list, options of every command, ...
    summary = overview[0].split(": ", 1)[1]
    rest = "\n".join(overview[3:]).replace("edgarpipe COMMAND --help shows a command's options, with an example.",
                                           "").replace("edgarpipe --version", "")
    page = [f'.TH EDGARPIPE 1 "" "edgarpipe {version}" "User Commands"',
            ".SH NAME", f"edgarpipe \\- {roff(summary)}",
            ".SH SYNOPSIS", ".B edgarpipe", ".I COMMAND", "[options]", ".br", ".B edgarpipe",
            ".I COMMAND", ".B \\-\\-help",
            ".SH DESCRIPTION"]
    page += body(rest)
    page.append(".SH COMMANDS")
    for command in COMMANDS:
        text = help_text(bin_dir, command)
        usage, _, after = text.partition("\n")
        page += [f".SS {command}", ".PP", ".nf", roff(usage.removeprefix("usage: ")), ".fi"]
        page += body(after)
    page.append(".SH ENVIRONMENT")
    for name, what in ENVIRONMENT:
        page += [".TP", f".B {roff(name)}", roff(what)]
    page += [".SH SEE ALSO",
             "The guides in the source tree: README.md, docs/operations.md (running and monitoring), "
             "docs/tables.md (the tables and views), docs/sinks.md (the databases)."]
    sys.stdout.write("\n".join(page) + "\n")


if __name__ == "__main__":
    main()
