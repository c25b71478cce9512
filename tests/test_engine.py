"""The warm papermill engine: kernel-equal outputs, nothing leaking from one notebook to the next.

Small hand-made notebooks; one test starts a real Jupyter kernel (papermill's own engine) to
compare against, the rest run in this process.
"""
from __future__ import annotations

import json
import os
import re

import nbformat
import papermill as pm
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from vilwork import engine

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def notebook(*sources: str, tags: dict[int, list[str]] | None = None) -> nbformat.NotebookNode:
    cells = [new_markdown_cell("# test")]
    for i, s in enumerate(sources):
        c = new_code_cell(s)
        if tags and i in tags:
            c.metadata["tags"] = tags[i]
        cells.append(c)
    return new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})


def run(nb, tmp_path, name: str, engine_name: str | None = "vilwork", **params) -> nbformat.NotebookNode:
    src = tmp_path / f"{name}-in.ipynb"
    nbformat.write(nb, src)
    return pm.execute_notebook(str(src), str(tmp_path / f"{name}.ipynb"), parameters=params or None,
                               engine_name=engine_name, progress_bar=False, kernel_name="python3")


def outputs(nb) -> list:
    """The outputs of every code cell with volatile parts (addresses, ids) masked."""
    out = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        text = json.dumps([{k: v for k, v in o.items() if k != "traceback"} for o in c.outputs], sort_keys=True)
        text = re.sub(r"0x[0-9a-f]+", "0x…", text)
        out.append((c.execution_count, text))
    return out


def value(nb, cell: int) -> str:
    """text/plain of the execute_result of code cell number ``cell`` (0-based among code cells)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    res = [o for o in code[cell].outputs if o.output_type == "execute_result"]
    assert res, code[cell].outputs
    return res[0]["data"]["text/plain"]


def test_engine_is_registered_with_papermill():
    from papermill.engines import papermill_engines

    engine.register()
    assert papermill_engines.get_engine("vilwork").__name__ == "WarmEngine"


# every kind of output a stage notebook makes, plus the ones it could
RICH = notebook(
    "print('สวัสดี'); print('line 2')",
    "import sys; sys.stderr.write('warn\\n'); 40 + 2",
    "from IPython.display import display, HTML, Markdown\ndisplay(HTML('<b>x</b>'))\ndisplay(Markdown('*y*'))",
    # wide frame: a kernel wraps its columns; a terminal would cut them with '...'
    "import pandas as pd\npd.DataFrame({f'column_{i}': range(3) for i in range(14)})",
    # plotly under ipykernel: the plotly mimetype only
    "import plotly.graph_objects as go\ngo.Figure(go.Bar(x=[1, 2], y=[3, 4]))",
    "from IPython.display import clear_output\nprint('gone'); clear_output(wait=True); print('kept')",
    "h = display(HTML('<i>v1</i>'), display_id=True)\nh.update(HTML('<i>v2</i>'))",
    "",
    "x = 1  # no output",
)


def test_outputs_equal_a_fresh_kernel(tmp_path):
    kernel = run(RICH, tmp_path, "kernel", engine_name=None)
    warm = run(RICH, tmp_path, "warm")
    assert outputs(warm) == outputs(kernel)
    assert warm.metadata["language_info"] == kernel.metadata["language_info"]
    code = [c for c in warm.cells if c.cell_type == "code"]
    assert code[3].outputs[0]["data"]["text/plain"].count("\\") >= 1  # wrapped, not cut
    assert "..." not in code[3].outputs[0]["data"]["text/plain"]
    assert list(code[4].outputs[0]["data"]) == ["application/vnd.plotly.v1+json"]
    assert [o["text"] for o in code[5].outputs] == ["kept\n"]
    assert code[6].outputs[0]["data"]["text/html"] == "<i>v2</i>"
    assert code[7].execution_count is None and code[8].execution_count == 8  # empty cells are skipped


A = notebook(
    "secret = 'village A'",
    "import os, sys, warnings, logging, random\n"
    "os.environ['VILWORK_LEAK'] = 'A'\n"
    "sys.path.append('/leak')\n"
    "warnings.simplefilter('error')\n"
    "logging.basicConfig(level=logging.DEBUG, force=True)\n"
    "logging.getLogger('vilwork').setLevel(logging.DEBUG)\n"
    "os.chdir('/')\n"
    "random.seed(1)",
    "import pandas as pd, numpy as np, plotly.io as pio\n"
    "pd.set_option('display.max_rows', 3)\n"
    "np.set_printoptions(precision=2)\n"
    "np.random.seed(1)\n"
    "pio.templates.default = 'plotly_dark'",
    "logging.getLogger('new.in.a').addHandler(logging.StreamHandler())\n"
    "ip = get_ipython()\n"
    "ip.display_formatter.formatters['text/plain'].for_type(int, lambda o, p, c: p.text('LEAK'))\n"
    "ip.events.register('post_run_cell', lambda result: print('LEAK'))\n"
    "import builtins; builtins.leaked = True",
)

B = notebook(
    "'secret' in dir()",
    "import os, sys, warnings, logging\n"
    "(os.environ.get('VILWORK_LEAK'), '/leak' in sys.path, os.getcwd() == CWD,"
    " any(f[0] == 'error' and f[2] is Warning for f in warnings.filters), logging.getLogger().level,"
    " logging.getLogger('vilwork').level)",
    "import pandas as pd, numpy as np, plotly.io as pio\n"
    "(pd.get_option('display.max_rows'), np.get_printoptions()['precision'], pio.templates.default)",
    "import builtins; (7, hasattr(builtins, 'leaked'))",
    "import random; random.seed(); r1 = random.random(); random.seed(1); r1 == random.random()",
    "Out",
    "logging.getLogger('new.in.a').warning('once'); logging.getLogger('new.in.b').warning('lib')",
)


def test_nothing_leaks_from_one_notebook_to_the_next(tmp_path, monkeypatch):
    import logging

    cwd = str(tmp_path)
    monkeypatch.chdir(tmp_path)
    run(A, tmp_path, "a")
    b = run(nbformat.from_dict(json.loads(json.dumps(B).replace("CWD", repr(cwd)))), tmp_path, "b")
    assert value(b, 0) == "False"
    assert value(b, 1) == f"(None, False, True, False, 30, {logging.getLogger('vilwork').level})"
    assert value(b, 2) == "(60, 8, 'plotly')"
    assert value(b, 3) == "(7, False)"  # no custom int printer, no builtins change
    assert all("LEAK" not in json.dumps(c.get("outputs", [])) for c in b.cells)
    assert value(b, 4) == "False"
    # the count starts again at 1, and the output history holds only this notebook's results
    assert [c.execution_count for c in b.cells if c.cell_type == "code"] == [1, 2, 3, 4, 5, 6, 7]
    assert "'village A'" not in value(b, 5)
    assert os.environ.get("VILWORK_LEAK") is None and "/leak" not in __import__("sys").path
    # A's handler is gone; a library's warning reaches stderr as in a kernel (last resort)
    code = [c for c in b.cells if c.cell_type == "code"]
    assert "".join(o.get("text", "") for o in code[6].outputs) == "once\nlib\n"


def test_a_variable_of_one_notebook_is_not_visible_in_the_next(tmp_path):
    run(notebook("only_in_a = 1"), tmp_path, "a")
    with pytest.raises(pm.PapermillExecutionError) as e:
        run(notebook("only_in_a"), tmp_path, "b")
    assert e.value.ename == "NameError"


def test_failing_cell_is_reported_as_papermill_reports_it(tmp_path):
    nb = notebook("x = 1", "raise ValueError('คำอธิบาย ผิด')", "y = 2")
    with pytest.raises(pm.PapermillExecutionError) as e:
        run(nb, tmp_path, "fail")
    assert e.value.ename == "ValueError" and "ผิด" in e.value.evalue and e.value.exec_count == 2
    out = nbformat.read(tmp_path / "fail.ipynb", as_version=4)
    code = [c for c in out.cells if c.cell_type == "code"]
    assert code[1].metadata.papermill["exception"] is True
    assert code[2].execution_count is None  # later cells do not run
    assert out.metadata.papermill["exception"] is True
    assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in out.cells)


def test_parameters_are_injected_and_counted_like_a_kernel(tmp_path):
    nb = notebook("village_code = '00000000'", "village_code")
    nb.cells[1].metadata["tags"] = ["parameters"]
    out = run(nb, tmp_path, "params", village_code="99010101")
    code = [c for c in out.cells if c.cell_type == "code"]
    assert "injected-parameters" in code[1].metadata["tags"]
    assert [c.execution_count for c in code] == [1, 2, 3]
    assert value(out, 2) == "'99010101'"


def test_python_only(tmp_path):
    nb = notebook("1")
    nb.metadata["kernelspec"] = {"display_name": "R", "language": "R", "name": "ir"}
    src = tmp_path / "r.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(engine.EngineError, match="Python notebooks only"):
        pm.execute_notebook(str(src), str(tmp_path / "r-out.ipynb"), engine_name="vilwork", progress_bar=False,
                            kernel_name="ir")


def test_a_table_in_the_process_duckdb_does_not_outlive_its_notebook(tmp_path):
    run(notebook("from vilwork.sql import cursor\nwith cursor() as c: c.execute('CREATE TABLE left_by_a AS SELECT 1 AS x')"),
        tmp_path, "a")
    b = run(notebook("from vilwork.sql import cursor\nwith cursor() as c:\n"
                     "    n = c.execute(\"SELECT count(*) FROM information_schema.tables WHERE table_name = 'left_by_a'\").fetchone()[0]\n"
                     "n"), tmp_path, "b")
    assert value(b, 0) == "0"
