"""The command line as a user meets it: every entry point sees every command."""
import re
import subprocess
import sys

import pytest

COMMANDS = ("synth", "ingest", "indicators", "run", "demo", "batch", "select", "register",
            "quality", "programme", "explore", "forum")


@pytest.mark.parametrize("entry", [["-m", "vilwork"], ["-m", "vilwork.cli"]])
def test_python_m_lists_every_command(entry):
    out = subprocess.run([sys.executable, *entry, "--help"], capture_output=True, text=True, check=True).stdout
    missing = [c for c in COMMANDS if not re.search(rf"^\s+{c}(\s|$)", out, re.M)]
    assert missing == []


def test_unknown_village_code_is_refused_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vilwork", "run", "--root", str(tmp_path), "--village", "../../etc"],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "../../etc" in r.stderr


def test_current_umask_is_read_without_changing_it():
    import os

    from vilwork.run import current_umask

    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert os.umask(0o027) == 0o027  # unchanged by reading it
    finally:
        os.umask(old)
