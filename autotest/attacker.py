"""The attacker of the security tests: the user nobody, run with runuser by
root (the only user that can switch to it without a password)."""
import os
import shutil
import subprocess

import pytest

NOBODY = 65534


def _can_runuser():
    return os.geteuid() == 0 and shutil.which("runuser") is not None


needs_root = pytest.mark.skipif(not _can_runuser(), reason="needs root and runuser (attacker user nobody)")


def as_nobody(*argv):
    subprocess.run(["runuser", "-u", "nobody", "--", *map(str, argv)], check=True, timeout=60)
