#!/usr/bin/python3
"""Extracts gdalwarp command lines from GDAL's own tests into cases.json.

    extract_cases.py GDAL_GIT_DIR [COMMIT]

reads autotest/utilities/test_gdalwarp.py and test_gdalwarp_lib.py at COMMIT
(default b2b011399a06, where GDAL 3.6 branched; the fork lqh2307/gdal has
OSGeo's history) with `git show`, parses them with ast, and writes:

- cases.json: one entry per gdalwarp call: its options, sources and output
  as gdalwarp would get them on a command line (run from
  autotest/utilities), and either null or the reason it is not a batch case;
- gdal/: the test data those cases read (files of 1 MB or less, with their
  sidecars), at the same paths relative to GDAL's autotest/.

test_gdalwarp.py runs the gdalwarp program: the string after
`get_gdalwarp_path() + ` is its command line. test_gdalwarp_lib.py calls
gdal.Warp(dst, src, **kwargs): GDAL's own gdal.WarpOptions(...,
...) turns the keywords into gdalwarp's options. A MEM or
/vsimem/ output is written as a GTiff file instead (the only change made).
"""
import ast
import json
import os
import shlex
import subprocess
import sys

from osgeo import gdal

HERE = os.path.dirname(os.path.abspath(__file__))
COMMIT = "b2b011399a06"
MAX_FILE = 1024 * 1024

# gdalwarp 3.6 options and their number of values (-refine_gcps and -tr
# are handled below).
ARITY = {
    "-s_srs": 1, "-t_srs": 1, "-ct": 1, "-to": 1, "-order": 1, "-et": 1, "-te": 4, "-te_srs": 1,
    "-ts": 2, "-ovr": 1, "-wo": 1, "-ot": 1, "-wt": 1, "-srcnodata": 1, "-dstnodata": 1, "-r": 1,
    "-wm": 1, "-cutline": 1, "-cl": 1, "-cwhere": 1, "-csql": 1, "-cblend": 1, "-if": 1, "-of": 1,
    "-co": 1, "-f": 1, "-cvmd": 1, "-oo": 1, "-doo": 1, "-s_coord_epoch": 1, "-t_coord_epoch": 1,
    "-srcband": 1, "-dstband": 1, "--config": 2, "--debug": 1, "-tr": 2, "-refine_gcps": 1,
    "-vshift": 0, "-novshift": 0, "-tps": 0, "-rpc": 0, "-geoloc": 0, "-tap": 0, "-srcalpha": 0,
    "-nosrcalpha": 0, "-dstalpha": 0, "-multi": 0, "-q": 0, "-quiet": 0, "-crop_to_cutline": 0,
    "-overwrite": 0, "-nomd": 0, "-setci": 0, "-wa": 0, "-rn": 0, "-rb": 0, "-rc": 0, "-rcs": 0,
}


def git_show(gitdir, path):
    return subprocess.run(["git", "--git-dir", gitdir, "show", f"{COMMIT}:{path}"], check=True,
                          capture_output=True).stdout


def git_tree(gitdir):
    out = subprocess.run(["git", "--git-dir", gitdir, "ls-tree", "-r", "-l", COMMIT, "autotest"], check=True,
                         capture_output=True, text=True).stdout
    sizes = {}
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        parts = meta.split()
        if parts[1] == "blob" and parts[3] != "-":
            sizes[path[len("autotest/"):]] = int(parts[3])
    return sizes


def const_str(node):
    """The value of a string made of constants (+, f-strings without fields),
    or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = const_str(node.left), const_str(node.right)
        return a + b if a is not None and b is not None else None
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(v.value for v in node.values)
    return None


def is_gdalwarp_path(node, program="gdalwarp"):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
        node.func.attr == f"get_{program}_path"


def split_command(node, program="gdalwarp"):
    """`get_gdalwarp_path() + "..."` -> the string, or False if not constant,
    or None if the node is not such a command."""
    parts = []

    def flatten(n):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            flatten(n.left)
            flatten(n.right)
        else:
            parts.append(n)

    flatten(node)
    if not parts or not is_gdalwarp_path(parts[0], program):
        return None
    rest = [const_str(p) for p in parts[1:]]
    if any(r is None for r in rest):
        return False
    return "".join(rest)


def parse_args(tokens):
    """gdalwarp's words -> (options, positionals), or a reason string."""
    options, positionals = [], []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.startswith("-") and len(t) > 1 and not _is_number(t):
            n = ARITY.get(t)
            if n is None:
                return f"option {t} not known to this extractor"
            if t == "-refine_gcps" and i + 2 < len(tokens) and _is_number(tokens[i + 2]):
                n = 2
            options += tokens[i:i + 1 + n]
            i += 1 + n
        else:
            positionals.append(t)
            i += 1
    return options, positionals


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def output_driver(options, output):
    for i in range(len(options) - 2, -1, -1):
        if options[i] in ("-of", "-f"):
            return options[i + 1]
    ext = os.path.splitext(output)[1].lower().lstrip(".")
    for i in range(gdal.GetDriverCount()):
        d = gdal.GetDriver(i)
        md = d.GetMetadata()
        if "DCAP_RASTER" not in md or ("DCAP_CREATE" not in md and "DCAP_CREATECOPY" not in md):
            continue
        exts = (md.get("DMD_EXTENSIONS") or md.get("DMD_EXTENSION") or "").lower().split()
        if ext and ext in exts:
            return d.ShortName
    return "GTiff"


def warp_option_list(kwargs):
    """gdalwarp's options for gdal.Warp(**kwargs), as GDAL's own Python builds
    them (GDAL 3.6's gdal.WarpOptions has no return_option_list: the list it
    passes to GDALWarpAppOptions is taken instead)."""
    captured = []
    saved = gdal.GDALWarpAppOptions

    def capture(options):
        captured.extend(options)
        return None

    gdal.GDALWarpAppOptions = capture
    try:
        gdal.WarpOptions(**kwargs)
    finally:
        gdal.GDALWarpAppOptions = saved
    return captured


class Extractor:
    def __init__(self, gitdir):
        self.gitdir = gitdir
        self.sizes = git_tree(gitdir)
        self.cases = []
        self.data = set()
        self.produced = {}

    def repo_path(self, path):
        """A path as seen from autotest/utilities -> path under autotest/, or None."""
        p = os.path.normpath(os.path.join("utilities", path))
        return None if p.startswith("..") else p

    def data_for(self, path):
        """Files to copy for a source or option file: the file and every
        file of its directory sharing its name's stem (sidecars); None if
        missing or too large."""
        rp = self.repo_path(path)
        if rp is None or rp not in self.sizes:
            return None
        if self.sizes[rp] > MAX_FILE:
            return f"{path} is larger than {MAX_FILE} bytes"
        d, base = os.path.split(rp)
        stem = base.split(".")[0]
        files = {rp}
        for other, size in self.sizes.items():
            od, ob = os.path.split(other)
            if od == d and ob != base and ob.split(".")[0] == stem and size <= MAX_FILE:
                files.add(other)
        return files

    def add(self, test, line, options, sources, output, origin, why=None):
        case = {
            "id": f"{test}_{line}",
            "test": test,
            "origin": f"{origin}:{line}",
            "options": options,
            "sources": sources,
            "output": output,
            "driver": None,
            "exception": why,
            "setup": [],
        }
        if why is None:
            case["driver"] = output_driver(options, output)
            files = set()
            for src in sources:
                setup = getattr(self, "produced", {}).get(src)
                if setup is not None and isinstance(self.data_for(setup["inputs"][0]), set):
                    case["setup"] = [{"program": setup["program"], "args": setup["args"]}]
                    files |= self.data_for(setup["inputs"][0])
                    continue
                got = self.data_for(src)
                if got is None:
                    case["exception"] = f"source {src} is made by the test's own Python code"
                    break
                if isinstance(got, str):
                    case["exception"] = f"test data too large to commit: {got}"
                    break
                files |= got
            for i, word in enumerate(options):
                if i > 0 and options[i - 1] in ("-cutline", "-to", "-ct") or word.endswith((".shp", ".csv")):
                    got = self.data_for(word.split("=", 1)[-1])
                    if isinstance(got, set):
                        files |= got
            if case["exception"] is None:
                if len(sources) != 1:
                    case["exception"] = "several sources warped into one output (a mosaic): a batch has one output per source"
                elif case["driver"].upper() == "MEM":
                    case["exception"] = "MEM output: nothing is written"
                self.data |= files
        self.cases.append(case)

    def extract_setup(self, tree):
        """gdal_translate commands with a constant command line that make a
        tmp/ file: a case reading that file runs them first."""
        self.produced = {}
        for call in [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args]:
            cmd = split_command(call.args[0], "gdal_translate")
            if not cmd:
                continue
            words = shlex.split(cmd)
            if len(words) >= 2 and words[-1].startswith("tmp/") and words[-1] not in self.produced:
                self.produced[words[-1]] = {"program": "gdal_translate", "args": words,
                                            "inputs": [words[-2]]}

    def extract_cli(self, tree):
        self.extract_setup(tree)
        for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
            written = set()
            calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and n.args]
            calls.sort(key=lambda n: n.lineno)
            for call in calls:
                cmd = split_command(call.args[0])
                if cmd is None:
                    continue
                if cmd is False:
                    self.add(fn.name, call.lineno, [], [], "", "test_gdalwarp.py",
                             "command line built from Python variables")
                    continue
                parsed = parse_args(shlex.split(cmd))
                if isinstance(parsed, str):
                    self.add(fn.name, call.lineno, [], [], "", "test_gdalwarp.py", parsed)
                    continue
                options, positionals = parsed
                if len(positionals) < 2:
                    self.add(fn.name, call.lineno, options, positionals, "", "test_gdalwarp.py",
                             "no source and output (a usage or error test)")
                    continue
                sources, output = positionals[:-1], positionals[-1]
                why = None
                if output in written and "-overwrite" not in options:
                    why = "writes into the existing output of an earlier command"
                elif output in sources:
                    why = "output is also a source"
                written.add(output)
                self.add(fn.name, call.lineno, options, sources, output, "test_gdalwarp.py", why)

    def extract_lib(self, tree):
        for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
            opened = {}
            names = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                        isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call):
                    c = node.value
                    if isinstance(c.func, ast.Attribute) and c.func.attr in ("Open", "OpenEx") and c.args:
                        s = const_str(c.args[0])
                        if s is not None:
                            opened[node.targets[0].id] = s
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                        isinstance(node.targets[0], ast.Name) and const_str(node.value) is not None:
                    names[node.targets[0].id] = const_str(node.value)
            calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                     and n.func.attr == "Warp" and isinstance(n.func.value, ast.Name)
                     and n.func.value.id == "gdal"]
            for call in sorted(calls, key=lambda n: n.lineno):
                self.extract_lib_call(fn.name, call, opened, names)

    def extract_lib_call(self, test, call, opened, names):
        origin = "test_gdalwarp_lib.py"
        if len(call.args) < 2:
            self.add(test, call.lineno, [], [], "", origin, "gdal.Warp call without a source")
            return
        dst = const_str(call.args[0])
        if dst is None and isinstance(call.args[0], ast.Name):
            dst = names.get(call.args[0].id)
        if dst is None:
            self.add(test, call.lineno, [], [], "", origin, "output named by a Python variable")
            return
        src_node = call.args[1]
        nodes = src_node.elts if isinstance(src_node, (ast.List, ast.Tuple)) else [src_node]
        sources = []
        for n in nodes:
            s = const_str(n)
            if s is None and isinstance(n, ast.Name):
                s = opened.get(n.id, names.get(n.id))
            if s is None and isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and \
                    n.func.attr in ("Open", "OpenEx") and n.args:
                s = const_str(n.args[0])
            if s is None:
                self.add(test, call.lineno, [], [], "", origin, "source is a dataset made in Python")
                return
            sources.append(s)
        kwargs = {}
        for kw in call.keywords:
            if kw.arg is None:
                self.add(test, call.lineno, [], [], "", origin, "options passed as **kwargs")
                return
            try:
                kwargs[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                if isinstance(kw.value, ast.Attribute) and isinstance(kw.value.value, ast.Name) and \
                        kw.value.value.id == "gdal" and hasattr(gdal, kw.value.attr):
                    kwargs[kw.arg] = getattr(gdal, kw.value.attr)
                else:
                    self.add(test, call.lineno, [], [], "", origin,
                             f"option {kw.arg} is a Python value (callback, dataset or variable)")
                    return
        try:
            options = warp_option_list(kwargs)
        except Exception as e:  # an option this GDAL's Python does not know
            self.add(test, call.lineno, [], [], "", origin, f"gdal.WarpOptions: {e}")
            return
        options = [str(o) for o in options]
        for i in range(len(options) - 1):
            if options[i] in ("-of", "-f") and options[i + 1].upper() == "MEM":
                options[i + 1] = "GTiff"
        name = os.path.basename(dst) or f"{test}.tif"
        if "-of" in options and options[options.index("-of") + 1] != "GTiff" and not dst:
            name = f"{test}.out"
        self.add(test, call.lineno, options, sources, "tmp/" + name, origin)

    def write(self, outdir):
        for rp in sorted(self.data):
            dst = os.path.join(outdir, "gdal", rp)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(git_show(self.gitdir, "autotest/" + rp))
        seen = {}
        for c in self.cases:
            n = seen.get(c["id"], 0)
            seen[c["id"]] = n + 1
            if n:
                c["id"] += f"_{n}"
        with open(os.path.join(outdir, "EXCEPTIONS.md"), "w") as f:
            f.write("# Conformance cases that are not batch cases\n\n"
                    "Generated by extract_cases.py from GDAL's autotest/utilities/test_gdalwarp.py and\n"
                    f"test_gdalwarp_lib.py at {COMMIT}. Every other gdalwarp call of those files is a\n"
                    "case of test_conformance.py and must pass.\n\n")
            by_reason = {}
            for c in self.cases:
                if c["exception"] is not None:
                    by_reason.setdefault(c["exception"], []).append(c["origin"])
            f.write("| reason | cases (file:line) |\n|---|---|\n")
            for reason, origins in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
                f.write(f"| {reason} ({len(origins)}) | {', '.join(origins)} |\n")
        with open(os.path.join(outdir, "cases.json"), "w") as f:
            json.dump({"gdal_commit": COMMIT, "cases": self.cases}, f, indent=1)
            f.write("\n")


def main():
    gitdir = sys.argv[1]
    global COMMIT
    if len(sys.argv) > 2:
        COMMIT = sys.argv[2]
    ex = Extractor(gitdir)
    ex.extract_cli(ast.parse(git_show(gitdir, "autotest/utilities/test_gdalwarp.py")))
    ex.extract_lib(ast.parse(git_show(gitdir, "autotest/utilities/test_gdalwarp_lib.py")))
    ex.write(HERE)
    batch = [c for c in ex.cases if c["exception"] is None]
    print(f"{len(ex.cases)} gdalwarp calls, {len(batch)} batch cases, {len(ex.data)} data files")


if __name__ == "__main__":
    main()
