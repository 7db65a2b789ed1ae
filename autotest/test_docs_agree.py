"""The batch options are declared once, in the option table of the library
(plugin/batchwarp_option_table.c), which `--help` is made from and
`gdal_batchwarp --list-batch-options` prints. Everything else that lists
them is checked against that table here, both ways: --help, the man page
(doc/gdal_batchwarp.1), the RST page (doc/gdal_batchwarp.rst), the README's
option table and the bash completion (packaging/bash-completion).

- every option (and every other spelling of it) is documented;
- nothing is documented as a batch option that the program does not have;
- a default stated in an option's entry ("default: X") is the table's, and
  an option with a default in the table states it.

Runs on the source tree and the program under test (GDAL_BATCHWARP_BIN):
nothing needs installing. scripts/package-test checks the installed files.
"""
import json
import os
import re

import pytest

from conftest import REPO_ROOT

DOC = os.path.join(REPO_ROOT, "doc")
MAN_PAGE = os.path.join(DOC, "gdal_batchwarp.1")
RST_PAGE = os.path.join(DOC, "gdal_batchwarp.rst")
README = os.path.join(REPO_ROOT, "README.md")
COMPLETION = os.path.join(REPO_ROOT, "packaging", "bash-completion", "gdal_batchwarp")

# A single-dash option word: "-outdir", "-retry-failed"; not "--config",
# not "-" (stdin), not "-5".
OPTION_WORD = re.compile(r"(?<![\w-])-[a-z](?:[a-z0-9_-]*[a-z0-9])?")
DEFAULT = re.compile(r"\bdefault:\s*(\S+)", re.I)


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _option_words(text):
    """Option words of a header or synopsis, leaving out metavars (<file>)."""
    return OPTION_WORD.findall(re.sub(r"<[^>]*>", " ", text))


class Entry:
    """One option's entry in a document: the words of its header (names and
    metavars) and its whole text, header included."""

    def __init__(self, header, body):
        self.header = header
        self.names = set(_option_words(header))
        self.text = " ".join(f"{header} {body}".split())

    def defaults(self):
        return [m.rstrip(".,;:)'\"") for m in DEFAULT.findall(self.text)]


###############################################################################
# The table, and each document's entries


@pytest.fixture(scope="module")
def table(run_batchwarp):
    res = run_batchwarp(["--list-batch-options"])
    assert res.returncode == 0, f"--list-batch-options: {res.stderr}"
    options = json.loads(res.stdout)
    assert len(options) >= 20
    return options


def _spellings(option):
    return [option["name"], *option["aliases"]]


def _help_entries(help_text):
    """--help: "  -name[, -alias] [<metavar>]  help", wrapped help lines
    indented below it."""
    entries, header, body = [], None, []
    for line in help_text.splitlines():
        started = re.match(r"^  (-\S.*?)(?: {2,}(.*))?$", line)
        if started:
            if header is not None:
                entries.append(Entry(header, " ".join(body)))
            header, body = started.group(1), [started.group(2) or ""]
        elif header is not None and line.startswith(" " * 8):
            body.append(line.strip())
        elif header is not None:
            entries.append(Entry(header, " ".join(body)))
            header, body = None, []
    if header is not None:
        entries.append(Entry(header, " ".join(body)))
    return entries


def _help_synopsis(help_text):
    return help_text.split("\n\n", 1)[0]


def _rst_plain(text):
    text = re.sub(r":\w+:`([^`]*)`", r"\1", text)
    return text.replace("``", "").replace("`", "")


def _rst_entries(rst):
    """The `.. option::` directives of the Options section, with their
    indented bodies."""
    entries, header, body = [], None, []
    for line in rst.splitlines():
        started = re.match(r"^\.\. option:: (.*)$", line)
        if started:
            if header is not None:
                entries.append(Entry(header, _rst_plain(" ".join(body))))
            header, body = started.group(1), []
        elif header is not None and (not line.strip() or line[0].isspace()):
            body.append(line)
        elif header is not None:
            entries.append(Entry(header, _rst_plain(" ".join(body))))
            header, body = None, []
    if header is not None:
        entries.append(Entry(header, _rst_plain(" ".join(body))))
    return entries


def _rst_synopsis(rst):
    return rst.split("\nSynopsis\n", 1)[1].split("\nDescription\n", 1)[0]


ROFF_ESCAPES = [(r"\-", "-"), (r"\fB", ""), (r"\fI", ""), (r"\fR", ""), (r"\fP", ""), (r"\(aq", "'"),
                (r"\(lq", '"'), (r"\(rq", '"'), (r"\e", "\\"), (r"\:", ""), (r"\&", "")]


def _roff_line(line):
    """Text of one line of roff: font macros' arguments (quoted or not),
    joined as they are printed; other requests print nothing."""
    for escape, plain in ROFF_ESCAPES:
        line = line.replace(escape, plain)
    macro = re.match(r"^\.([A-Z]{1,2})(?:\s+(.*))?$", line)
    if not line.startswith("."):
        return line
    if macro is None or macro.group(1) not in {"B", "I", "BI", "IB", "BR", "RB", "IR", "RI", "OP"}:
        return ""
    words = [quoted if quoted or not bare else bare
             for quoted, bare in re.findall(r'"([^"]*)"|(\S+)', macro.group(2) or "")]
    if macro.group(1) == "OP":  # an optional option: [-name value]
        return "[" + " ".join(words) + "]"
    return (" " if macro.group(1) in {"B", "I"} else "").join(words)


def _man_section(man, name):
    return man.split(f"\n.SH {name}\n", 1)[1].split("\n.SH ", 1)[0]


def _man_entries(man):
    """The tagged paragraphs (.TP) of OPTIONS: tag line, then the body."""
    entries = []
    for block in _man_section(man, "OPTIONS").split("\n.TP\n")[1:]:
        lines = block.splitlines()
        entries.append(Entry(_roff_line(lines[0]), " ".join(_roff_line(x) for x in lines[1:])))
    return entries


def _man_synopsis(man):
    return " ".join(_roff_line(x) for x in _man_section(man, "SYNOPSIS").splitlines())


def _readme_entries(readme):
    """Rows of the README's table of batch options: `option` | meaning."""
    after = readme.split("\nBatch options", 1)[1]
    rows = re.search(r"\n(\|.*\|\n)+", after).group(0).strip().splitlines()
    entries = []
    for row in rows[2:]:  # header and separator rows
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        header = " ".join(re.findall(r"`([^`]*)`", cells[0]))
        entries.append(Entry(header, cells[1].replace("`", "")))
    return entries


def _readme_synopsis(readme):
    return readme.split("\n## Usage\n", 1)[1].split("```")[1]


def _documents(help_text):
    rst, man, readme = _read(RST_PAGE), _read(MAN_PAGE), _read(README)
    return {
        "--help": (_help_entries(help_text), _help_synopsis(help_text)),
        "man page": (_man_entries(man), _man_synopsis(man)),
        "RST page": (_rst_entries(rst), _rst_synopsis(rst)),
        "README": (_readme_entries(readme), _readme_synopsis(readme)),
    }


DOCUMENTS = ["--help", "man page", "RST page", "README"]


@pytest.fixture(scope="module")
def help_text(run_batchwarp):
    res = run_batchwarp(["--help"])
    assert res.returncode == 0
    return res.stdout


@pytest.fixture(scope="module")
def documents(help_text):
    return _documents(help_text)


def _entry_of(entries, option):
    found = [e for e in entries if option["name"] in e.names]
    return found[0] if len(found) == 1 else None


###############################################################################
# The checks


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_option_is_documented(table, documents, document):
    entries, _ = documents[document]
    assert len(entries) >= 10, f"could not read the option entries of the {document}"
    problems = []
    for option in table:
        found = [e for e in entries if option["name"] in e.names]
        if len(found) != 1:
            problems.append(f"{option['name']}: {len(found)} entries")
            continue
        for alias in option["aliases"]:
            if not re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", found[0].text):
                problems.append(f"{alias} (spelling of {option['name']}) not in its entry")
    assert not problems, f"{document}: " + "; ".join(problems)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_nothing_documented_that_does_not_exist(table, documents, document):
    entries, synopsis = documents[document]
    known = {s for option in table for s in _spellings(option)}
    named = {n for e in entries for n in e.names} | set(_option_words(synopsis))
    assert not named - known, f"{document} documents options the program does not have: {sorted(named - known)}"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_documented_defaults_are_the_tables(table, documents, document):
    entries, _ = documents[document]
    problems = []
    for option in table:
        entry = _entry_of(entries, option)
        if entry is None:
            continue  # test_every_option_is_documented says so
        stated = entry.defaults()
        expected = [option["default"]] if option["default"] is not None else []
        if sorted(set(stated)) != expected:
            problems.append(f"{option['name']}: table {option['default']!r}, documented {stated}")
    assert not problems, f"{document}: " + "; ".join(problems)


def test_synopsis_of_the_rst_page_names_every_option(table, documents):
    _, synopsis = documents["RST page"]
    named = set(_option_words(synopsis))
    missing = [o["name"] for o in table if o["name"] not in named]
    assert not missing, f"RST synopsis lacks {missing}"


def _completion_words():
    script = _read(COMPLETION)
    listed = re.search(r'local batch_opts="([^"]*)"', script)
    assert listed, "no batch_opts list in the completion"
    case = script.split('case "$prev" in', 1)[1].split("esac", 1)[0]
    patterns = re.findall(r"^\s*((?:[-\w]+\s*\|\s*(?:\\\n\s*)?)*[-\w]+)\)", case, re.M)
    with_values = {w for p in patterns for w in re.findall(r"-[-\w]+", p)}
    return set(listed.group(1).split()), with_values


def test_completion_offers_every_option_and_no_other(table):
    offered, _ = _completion_words()
    known = {s for option in table for s in _spellings(option)}
    assert offered == known, (f"completion lacks {sorted(known - offered)}, "
                              f"offers unknown {sorted(offered - known)}")


def test_completion_completes_values_after_the_options_that_take_one(table):
    """After an option that takes a value, the completion offers its value
    (a file, a directory, a choice, or nothing), never an option; after a
    flag it does not stop."""
    _, with_values = _completion_words()
    problems = []
    for option in table:
        for spelling in _spellings(option):
            if option["values"] and spelling not in with_values:
                problems.append(f"{spelling} takes a value: no case for it")
            if not option["values"] and spelling in with_values:
                problems.append(f"{spelling} is a flag: a case takes its next word as a value")
    assert not problems, "; ".join(problems)


def test_help_is_grouped_and_lists_each_option_once(table, help_text):
    """--help shows the table under its groups' headings, in the table's order."""
    headings = re.findall(r"^Batch options for (.*):$", help_text, re.M)
    assert headings == list(dict.fromkeys(o["group"] for o in table))
    names = [n for e in _help_entries(help_text) for n in _option_words(e.header)]
    assert names == [s for option in table for s in _spellings(option)]
    assert all(len(line) <= 79 for line in help_text.splitlines())
