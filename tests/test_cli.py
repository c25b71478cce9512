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


def test_fresh_kernels_are_encrypted_and_quiet(tmp_path, capfd):
    """papermill's own engine with vilwork's kernel options: the cell runs, and the kernel prints no
    transport warning nor the error ipykernel logs when jupyter_client interrupts it at shutdown."""
    import nbformat
    import papermill as pm

    from vilwork.run import kernel_options

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nbformat.write(nb, tmp_path / "in.ipynb")
    pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                        progress_bar=False, **kernel_options(None))
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[0].outputs[0]["text"] == "42\n"
    err = capfd.readouterr().err
    assert "IPKernelApp" not in err and "without encryption" not in err, err
