"""A papermill engine that runs notebooks in this process's warm IPython shell.

papermill's default engine starts a fresh Jupyter kernel for every notebook: about 0.7 s to start
it and 3–4 s to import pandas, plotly and vilwork again, and — for the publishing stage — up to
18 s for kaleido to start Chromium. A batch of villages pays that for every stage of every
village. This engine runs the cells in one long-lived IPython shell instead (ipykernel's own
``ZMQInteractiveShell``, so display hooks, rich reprs, library detection of "am I in a notebook?"
and traceback formatting are the kernel's), with a fresh user namespace for every notebook and
a reset protocol that puts process-wide state back as it was. The executed notebook it returns
is what papermill writes: same outputs, execution counts and metadata as a kernel run.

Use it through papermill (``engine_name="vilwork"``; registered as an entry point in
``pyproject.toml``) or ``vilwork batch``, which keeps one such shell in each Dask worker.

What is isolated between notebooks (each checked by ``tests/test_engine.py``):

* the user namespace (``shell.reset``), the output history (``Out``, ``_``), execution counts;
* ``os.environ``, the working folder, ``sys.path``, ``sys.argv``, ``builtins``, warnings
  filters, logging configuration (during a notebook the root logger is a kernel's: no handlers,
  WARNING), the random seeds (reseeded from the OS, as in a new process);
* shell configuration a notebook can change: display formatters, event callbacks, input and AST
  transformers, exception mode;
* library options: pandas options, numpy print options and error handling, plotly's default
  renderer and template, matplotlib's rcParams and open figures.

What is shared on purpose: imported modules (the point: import once), caches that are keyed by
their inputs (vilwork caches only definition files), kaleido's Chromium. A notebook that
monkey-patches a library module would leak; the stage notebooks do not (STYLE: notebooks call
library functions, nothing else). Per-cell timeouts are not enforced in-process: the batch
bounds a whole village instead. Printed text is sent when the cell ends or something is
displayed, so prints separated by a pause become one stream output where a kernel (which flushes
every 0.2 s) may make two.
"""
from __future__ import annotations

import builtins
import contextlib
import copy
import datetime as dt
import io
import logging
import os
import random
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from .errors import VilworkError
from .log import get_logger

log = get_logger(__name__)

#: name of the engine in papermill's registry (``papermill --engine vilwork``).
ENGINE_NAME = "vilwork"
#: seconds between saves of the output notebook while it runs (papermill saves every cell).
SAVE_EVERY = 10.0

# one notebook at a time per process: stdout, the environment and the working folder are global
_EXECUTION_LOCK = threading.RLock()
_SHELL_LOCK = threading.Lock()
_SHELL: WarmShell | None = None


class EngineError(VilworkError):
    """Raised when a notebook cannot run in the warm shell (not a Python notebook)."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------
# capturing what the shell would send to a Jupyter front end


def _capture_session_class():
    from jupyter_client.session import Session

    class CaptureSession(Session):
        """A jupyter_client Session whose ``send`` hands the message to a sink, not a socket."""

        def __init__(self, sink: Callable[[dict], None], **kw):
            super().__init__(key=os.urandom(16), **kw)  # nothing is sent; a key silences the warning
            self._sink = sink

        def send(self, stream, msg_or_type, content=None, parent=None, ident=None, buffers=None,
                 track=False, header=None, metadata=None):  # noqa: D102 - the Session API
            if isinstance(msg_or_type, dict):
                msg = msg_or_type
            else:
                msg = self.msg(msg_or_type, content=content, parent=parent, header=header, metadata=metadata)
            self._sink(msg)
            return msg

    return CaptureSession


class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` during a notebook: text becomes ``stream`` messages.

    Text is buffered until the next flush (the display publisher flushes before every display,
    as the kernel's OutStream does), so prints and displays keep their order.
    """

    def __init__(self, name: str, emit: Callable[[str, str], None]):
        super().__init__()
        self.name = name
        self._emit = emit
        self._buf: list[str] = []

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if s:
            self._buf.append(s)
        return len(s)

    def flush(self) -> None:
        if self._buf:
            text, self._buf = "".join(self._buf), []
            self._emit(self.name, text)


class _Outputs:
    """Turns captured messages into nbformat outputs of the current cell (nbclient's rules)."""

    def __init__(self):
        self.outputs: list = []
        self.clear_before_next = False
        self.display_ids: dict[str, list[int]] = {}

    def start(self) -> None:
        self.outputs = []
        self.clear_before_next = False
        self.display_ids = {}

    def handle(self, msg: dict) -> None:
        from nbformat.v4 import output_from_msg

        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "clear_output":
            if content.get("wait"):
                self.clear_before_next = True
            else:
                self.outputs[:] = []
                self.display_ids = {}
            return
        display_id = (content.get("transient") or {}).get("display_id")
        if kind == "update_display_data":
            for i in self.display_ids.get(display_id, []):
                self.outputs[i]["data"] = content["data"]
                self.outputs[i]["metadata"] = content["metadata"]
            return
        if kind not in ("stream", "display_data", "execute_result", "error"):
            return
        out = output_from_msg(msg)
        if self.clear_before_next:
            self.outputs[:] = []
            self.display_ids = {}
            self.clear_before_next = False
        if display_id:
            self.display_ids.setdefault(display_id, []).append(len(self.outputs))
        self.outputs.append(out)


# ---------------------------------------------------------------------------------------------
# the reset protocol: process-wide state a notebook can change, snapshotted and put back


class _StateGuard:
    """Snapshot of process-wide state, restored after each notebook (see the module docstring)."""

    def __init__(self, shell):
        self.shell = shell
        self.saved: dict[str, Any] = {}

    # -- snapshot ------------------------------------------------------------------------------
    def snapshot(self) -> None:
        sh = self.shell
        s = self.saved
        s["environ"] = dict(os.environ)
        s["cwd"] = os.getcwd()
        s["path"] = list(sys.path)
        s["argv"] = list(sys.argv)
        s["builtins"] = dict(vars(builtins))
        s["warnings"] = list(warnings.filters)
        s["logging"] = self._logging_state()
        s["formatters"] = {
            k: (copy.copy(f.type_printers), copy.copy(f.deferred_printers), f.enabled)
            for k, f in sh.display_formatter.formatters.items()
        }
        s["active_types"] = list(sh.display_formatter.active_types)
        s["events"] = {k: list(v) for k, v in sh.events.callbacks.items()}
        s["transformers"] = (list(sh.input_transformers_post), list(sh.input_transformers_cleanup),
                             list(sh.ast_transformers))
        s["xmode"] = sh.InteractiveTB.mode
        s["modules"] = {}
        for name, (take, _put) in _LIBRARY_STATE.items():
            mod = sys.modules.get(name)
            if mod is not None:
                with contextlib.suppress(Exception):
                    s["modules"][name] = take(mod)

    @staticmethod
    def _logging_state() -> dict:
        mgr = logging.Logger.manager
        state = {"": (logging.root.level, list(logging.root.handlers), logging.root.disabled, True)}
        for name, lg in list(mgr.loggerDict.items()):
            if isinstance(lg, logging.Logger):
                state[name] = (lg.level, list(lg.handlers), lg.disabled, lg.propagate)
        return state

    # -- restore -------------------------------------------------------------------------------
    def restore(self) -> None:
        sh = self.shell
        s = self.saved
        if os.environ != s["environ"]:
            os.environ.clear()
            os.environ.update(s["environ"])
        with contextlib.suppress(OSError):
            if os.getcwd() != s["cwd"]:
                os.chdir(s["cwd"])
        sys.path[:] = s["path"]
        sys.argv[:] = s["argv"]
        b = vars(builtins)
        for k in [k for k in b if k not in s["builtins"]]:
            del b[k]
        for k, v in s["builtins"].items():
            if b.get(k, _MISSING) is not v:
                b[k] = v
        warnings.filters[:] = s["warnings"]
        warnings._filters_mutated()  # type: ignore[attr-defined] - reset the warnings cache
        self._restore_logging(s["logging"])
        for k, f in sh.display_formatter.formatters.items():
            if k in s["formatters"]:
                tp, dp, enabled = s["formatters"][k]
                f.type_printers, f.deferred_printers, f.enabled = copy.copy(tp), copy.copy(dp), enabled
        sh.display_formatter.active_types = list(s["active_types"])
        for k in sh.events.callbacks:
            sh.events.callbacks[k][:] = s["events"].get(k, [])
        post, cleanup, ast = s["transformers"]
        sh.input_transformers_post[:] = post
        sh.input_transformers_cleanup[:] = cleanup
        sh.ast_transformers[:] = ast
        with contextlib.suppress(Exception):
            sh.InteractiveTB.set_mode(s["xmode"])
        for name, (take, put) in _LIBRARY_STATE.items():
            mod = sys.modules.get(name)
            if mod is None:
                continue
            with contextlib.suppress(Exception):
                put(mod, s["modules"].get(name))
        _reseed()

    @staticmethod
    def _restore_logging(state: dict) -> None:
        mgr = logging.Logger.manager
        for name, lg in list(mgr.loggerDict.items()):
            if not isinstance(lg, logging.Logger):
                continue
            if name in state:
                level, handlers, disabled, propagate = state[name]
                lg.setLevel(level)
                lg.handlers[:] = handlers
                lg.disabled, lg.propagate = disabled, propagate
            else:  # created during the notebook: a library's import-time setup stays, handlers
                # the notebook added would write into the next notebook's output
                lg.handlers[:] = [h for h in lg.handlers if isinstance(h, logging.NullHandler)]
        level, handlers, disabled, _ = state[""]
        logging.root.setLevel(level)
        logging.root.handlers[:] = handlers
        logging.root.disabled = disabled


def _kernel_logging() -> None:
    """The root logger as a kernel has it: no handlers, WARNING, so a library's warning reaches
    the notebook's stderr (through logging's last-resort handler) as it does in a kernel."""
    logging.root.handlers[:] = []
    logging.root.setLevel(logging.WARNING)
    logging.root.disabled = False


_MISSING = object()


def _reseed() -> None:
    """Random seeds as a new process has them: a notebook that seeds never fixes the next one."""
    random.seed()
    np = sys.modules.get("numpy")
    if np is not None:
        with contextlib.suppress(Exception):
            np.random.seed(int.from_bytes(os.urandom(4), "little"))


def _pandas_take(pd):
    from pandas._config import config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {k: config.get_option(k) for k in config._registered_options if k not in config._deprecated_options}


def _pandas_put(pd, saved):
    from pandas._config import config

    keys = [k for k in config._registered_options if k not in config._deprecated_options]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in keys:
            with contextlib.suppress(Exception):
                if saved is None:  # imported by the notebook: back to the defaults
                    config.reset_option(k)
                elif k in saved and config.get_option(k) is not saved[k]:
                    config.set_option(k, saved[k])


def _numpy_take(np):
    return np.get_printoptions(), np.geterr()


def _numpy_put(np, saved):
    if saved is None:
        np.set_printoptions(edgeitems=3, infstr="inf", linewidth=75, nanstr="nan", precision=8,
                            suppress=False, threshold=1000, formatter=None, sign="-", floatmode="maxprec",
                            legacy=False)
        np.seterr(all="warn", under="ignore")
        return
    printopts, err = saved
    printopts = {k: v for k, v in printopts.items() if k != "override_repr"}
    np.set_printoptions(**printopts)
    np.seterr(**err)


def _plotly_take(pio):
    return pio.renderers.default, pio.templates.default


def _plotly_put(pio, saved):
    if saved is None:  # imported by the notebook: back to what a fresh kernel's import gives
        saved = (os.environ.get("PLOTLY_RENDERER") or "plotly_mimetype", "plotly")
        pio._vilwork_parity = True
    pio.renderers.default, pio.templates.default = saved


def _mpl_take(mpl):
    return copy.deepcopy(dict(mpl.rcParams))


def _mpl_put(mpl, saved):
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
    if saved is None:
        mpl.rc_file_defaults()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mpl.rcParams.update({k: v for k, v in saved.items() if k != "backend"})


#: library -> (snapshot, restore); only libraries already imported are touched.
_LIBRARY_STATE: dict[str, tuple[Callable, Callable]] = {
    "pandas": (_pandas_take, _pandas_put),
    "numpy": (_numpy_take, _numpy_put),
    "plotly.io": (_plotly_take, _plotly_put),
    "matplotlib": (_mpl_take, _mpl_put),
}


def _kernel_parity() -> None:
    """Redo the "am I in a Jupyter kernel?" decisions libraries took when imported before the
    warm shell existed (in a kernel they are imported inside a cell):

    * plotly picks its default renderer at import: ``plotly_mimetype`` under ipykernel;
    * pandas sets ``display.max_columns`` at import: 0 (fit a terminal) outside a kernel, 20 in one.
    """
    pio = sys.modules.get("plotly.io")
    if pio is not None and getattr(pio, "_vilwork_parity", None) is None:
        if pio.renderers.default != "plotly_mimetype" and "PLOTLY_RENDERER" not in os.environ:
            pio.renderers.default = "plotly_mimetype"
        pio._vilwork_parity = True
    if "pandas" in sys.modules:
        with contextlib.suppress(Exception):
            from pandas._config import config

            opt = config._registered_options.get("display.max_columns")
            if opt is not None and opt.defval == 0:
                config._registered_options["display.max_columns"] = opt._replace(defval=20)
                if config.get_option("display.max_columns") == 0:
                    config.set_option("display.max_columns", 20)


# ---------------------------------------------------------------------------------------------
# the shell


class WarmShell:
    """The one IPython shell of this process, reused notebook after notebook.

    Use :func:`warm_shell` to get it. :meth:`notebook` is a context manager giving a fresh
    namespace; :meth:`run_cell` executes one cell and returns its nbformat outputs.
    """

    def __init__(self):
        from ipykernel.ipkernel import IPythonKernel
        from ipykernel.zmqshell import ZMQInteractiveShell
        from traitlets.config import Config

        # what ipykernel sets before the first import: matplotlib draws inline
        os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        cfg = Config()
        cfg.HistoryManager.enabled = False  # no sqlite file shared by every worker
        self.language_info = dict(IPythonKernel.language_info)
        self._out = _Outputs()
        session = _capture_session_class()(self._out.handle)
        self._session = session
        if ZMQInteractiveShell.initialized():
            shell = ZMQInteractiveShell.instance()
        else:
            shell = ZMQInteractiveShell.instance(config=cfg)
        shell.display_pub.session = session
        shell.display_pub.pub_socket = None
        shell.displayhook.session = session
        shell.displayhook.pub_socket = None
        # in a kernel every import runs inside a cell, where get_ipython is a builtin; libraries
        # imported later in this process then take the same "in a kernel" decisions
        builtins.get_ipython = shell.get_ipython  # type: ignore[attr-defined]
        self.shell = shell
        _kernel_parity()
        shell.reset(new_session=False)
        self._fresh_names = frozenset(shell.user_ns)
        self._dirty = False
        self._stdout = _Stream("stdout", self._emit_stream)
        self._stderr = _Stream("stderr", self._emit_stream)
        self.notebooks_run = 0

    def _emit_stream(self, name: str, text: str) -> None:
        self._session.send(None, "stream", {"name": name, "text": text})

    @contextlib.contextmanager
    def notebook(self) -> Iterator["WarmShell"]:
        """A fresh notebook: empty namespace, count 1, process state restored afterwards."""
        with _EXECUTION_LOCK:
            _kernel_parity()
            guard = _StateGuard(self.shell)
            guard.snapshot()
            if self._dirty or set(self.shell.user_ns) - set(self._fresh_names):
                self.shell.reset(new_session=False)
            self._dirty = True
            self.shell.execution_count = 1
            saved_io = sys.stdout, sys.stderr, sys.stdin
            sys.stdout, sys.stderr, sys.stdin = self._stdout, self._stderr, io.StringIO()
            _kernel_logging()
            try:
                yield self
            finally:
                with contextlib.suppress(Exception):
                    self._stdout.flush()
                    self._stderr.flush()
                sys.stdout, sys.stderr, sys.stdin = saved_io
                self.shell.reset(new_session=False)  # drop the notebook's objects now, not later
                self._dirty = False
                guard.restore()
                from . import sql

                sql.reset()  # the process's DuckDB: nothing a notebook put in it outlives it
                self.notebooks_run += 1

    def run_cell(self, source: str) -> tuple[list, int, bool]:
        """Execute one cell; return (outputs, execution count, succeeded)."""
        self._out.start()
        count = self.shell.execution_count
        result = self.shell.run_cell(source, store_history=True, silent=False)
        self._stdout.flush()
        self._stderr.flush()
        return list(self._out.outputs), count, bool(result.success)


def warm_shell() -> WarmShell:
    """This process's :class:`WarmShell` (created on first use)."""
    global _SHELL
    with _SHELL_LOCK:
        if _SHELL is None:
            _SHELL = WarmShell()
        return _SHELL


def execute_notebook_inplace(nb, *, on_cell_start=None, on_cell_complete=None, on_cell_error=None) -> None:
    """Run the code cells of ``nb`` in the warm shell, filling outputs as nbclient would.

    Stops at the first failing cell unless it is tagged ``raises-exception``; cells tagged
    ``skip-execution`` and empty cells are skipped (nbclient's rules).
    """
    shell = warm_shell()
    with shell.notebook():
        for index, cell in enumerate(nb.cells):
            if on_cell_start:
                on_cell_start(cell, index)
            try:
                tags = cell.metadata.get("tags", [])
                if cell.cell_type != "code" or not cell.source.strip() or "skip-execution" in tags:
                    continue
                timing = {"iopub.status.busy": _now(), "iopub.execute_input": _now()}
                cell.outputs = []
                outputs, count, ok = shell.run_cell(cell.source)
                timing["shell.execute_reply"] = timing["iopub.status.idle"] = _now()
                cell.metadata["execution"] = timing
                cell.outputs = outputs
                cell.execution_count = count
                if not ok and "raises-exception" not in tags:
                    if on_cell_error:
                        on_cell_error(cell, index)
                    break
            finally:
                if on_cell_complete:
                    on_cell_complete(cell, index)
    nb.metadata["language_info"] = dict(shell.language_info)


def _papermill_engine_class():
    from papermill.engines import Engine

    class WarmEngine(Engine):
        """papermill engine ``vilwork``: cells run in this process's warm IPython shell."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, save_every: float = SAVE_EVERY, **kwargs):
            lang = (nb_man.nb.metadata.get("kernelspec") or {}).get("language") or \
                (nb_man.nb.metadata.get("language_info") or {}).get("name") or "python"
            if lang.lower() != "python":
                raise EngineError(f"the vilwork engine runs Python notebooks only, not {lang} ({kernel_name})")

            # papermill saves the whole notebook (validated against the schema) before and after
            # every cell, about 36 ms a save: 130 saves a village. Save at most every
            # ``save_every`` seconds while running; papermill still writes the final notebook.
            save = nb_man.save
            last = [time.monotonic()]

            def throttled_save(**kw):
                if time.monotonic() - last[0] >= save_every:
                    save(**kw)
                    last[0] = time.monotonic()

            def error(cell, index):
                nb_man.cell_exception(nb_man.nb.cells[index], cell_index=index)

            nb_man.save = throttled_save
            try:
                execute_notebook_inplace(
                    nb_man.nb,
                    on_cell_start=lambda cell, index: nb_man.cell_start(cell, index),
                    on_cell_complete=lambda cell, index: nb_man.cell_complete(nb_man.nb.cells[index], cell_index=index),
                    on_cell_error=error,
                )
            finally:
                nb_man.save = save
            return nb_man.nb

    return WarmEngine


def __getattr__(name: str):
    # papermill is imported only when the engine is asked for (entry point: vilwork.engine:WarmEngine)
    if name == "WarmEngine":
        cls = _papermill_engine_class()
        globals()["WarmEngine"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register() -> str:
    """Register the engine with papermill in this process (the entry point does it on install)."""
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, __getattr__("WarmEngine"))
    return ENGINE_NAME


def preload(start_browser: bool = True) -> float:
    """Import what the stage notebooks import, and start the persistent Chromium; return seconds.

    Called once per worker so the first village does not pay it inside a stage.
    """
    import time

    t0 = time.perf_counter()
    shell = warm_shell()
    # imported inside a cell, as the first notebook of a kernel would import them
    modules = ["pandas", "plotly.graph_objects", "vilwork.build", "vilwork.km", "vilwork.needs",
               "vilwork.show", "vilwork.understand", "papermill", "nbformat.v4", "nbformat.validator"]
    if start_browser:
        modules += ["folium", "pypdf", "vilwork.publish.html", "vilwork.publish.maps", "vilwork.publish.pdf"]
        from .publish.pdf import pdf_engine

        if pdf_engine() == "weasyprint":  # else only imported if Chromium fails to print (0.5 s)
            modules.append("weasyprint")
    code = "\n".join(f"import {m}" for m in modules)
    if start_browser:  # the persistent Chromium starts at the first chart export: draw one now
        code += "\nvilwork.publish.pdf.figure_image(plotly.graph_objects.Figure(), 'svg', 100, 100)"
        # pythainlp's word dictionary (a trie of 235,000 nodes) loads at the first Thai caption;
        # loaded here it is frozen below with the rest, else every namespace reset's full
        # collection walks it again (0.25 CPU s a notebook, 1 s a village)
        code += "\nvilwork.publish.html.thai_wrap('ภาษาไทย')"
    with shell.notebook():
        outputs, _count, ok = shell.run_cell(code)
    import nbformat

    nbformat.validate(nbformat.v4.new_notebook())  # builds the schema validator once
    # what is loaded now lives as long as the worker: keep it out of the collector's way, so the
    # full collection IPython runs at each namespace reset costs milliseconds, not 0.15 s
    import atexit
    import gc

    gc.collect()
    gc.freeze()
    atexit.register(gc.unfreeze)  # let the interpreter's last collection see everything again
    if not ok:
        log.warning("preload failed: %s", [o.get("evalue") for o in outputs if o.get("output_type") == "error"])
    return time.perf_counter() - t0


__all__ = ["ENGINE_NAME", "EngineError", "WarmShell", "execute_notebook_inplace", "preload", "register", "warm_shell"]
