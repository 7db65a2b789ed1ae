"""doc/design.md stays the short map issue 14 asks for: under 150 lines,
naming every module of the library and the states of a worker."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_design():
    with open(os.path.join(ROOT, "doc", "design.md"), encoding="utf-8") as f:
        return f.read()


def test_design_is_under_150_lines():
    assert len(read_design().splitlines()) < 150


def test_design_names_every_library_module():
    text = read_design()
    modules = sorted(
        name[: -len(".c")]
        for name in os.listdir(os.path.join(ROOT, "plugin"))
        if name.startswith("batchwarp_") and name.endswith(".c")
    )
    assert len(modules) > 10, modules
    missing = [m for m in modules if not re.search(rf"`{re.escape(m)}[.`]", text)]
    assert not missing, f"modules not in doc/design.md: {missing}"


def test_design_names_the_states_of_a_worker():
    text = read_design()
    for state in ("empty", "starting", "idle", "busy", "exiting"):
        assert f"**{state}**" in text, state
