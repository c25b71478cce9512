"""Personal data: keyed pseudonyms for citizen IDs and house codes, and masking for messages.

A pseudonym is HMAC-SHA256 of the value under a secret key, as 16 hex characters. The same key
gives the same pseudonym in every run and every year, so a household or person can be followed
across survey years without its real identifier ever reaching ``data/processed``. The key lives in
``<workspace>/.vilwork/pseudonym.key`` (mode 600, folder mode 700; override the path with the
``VILWORK_KEY_FILE`` environment variable) and is created on the first run.

Losing the key breaks the link between old and new outputs; :func:`load_key` refuses to make a
new key when processed data already exist (see :class:`~vilwork.errors.KeyFileError`).
"""
from __future__ import annotations

import hmac
import os
import re
import secrets
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import KeyFileError
from .log import get_logger
from .workspace import Workspace

log = get_logger(__name__)

KEY_ENV = "VILWORK_KEY_FILE"
KEY_BYTES = 32
HASH_CHARS = 16


def key_path(ws: Workspace) -> Path:
    """Where the workspace's pseudonym key is (``VILWORK_KEY_FILE`` overrides ``.vilwork/pseudonym.key``)."""
    env = os.environ.get(KEY_ENV)
    return Path(env).expanduser() if env else ws.secrets / "pseudonym.key"


def _has_processed_data(ws: Workspace) -> bool:
    return ws.processed.is_dir() and any(ws.processed.rglob("*.parquet"))


def load_key(ws: Workspace, *, create: bool = True) -> bytes:
    """Read the workspace's pseudonym key, creating it on the first run.

    Parameters
    ----------
    ws : Workspace
    create : bool
        Create a new random key when there is none and no processed data exist yet.

    Returns
    -------
    bytes
        32 bytes.

    Raises
    ------
    KeyFileError
        The key is missing while ``data/processed`` already holds Parquet files made with a key
        (a new key would give new pseudonyms that no longer match them), or the key file is
        unreadable or malformed.
    """
    path = key_path(ws)
    if path.exists():
        return _read_key(path)
    if _has_processed_data(ws):
        raise KeyFileError(
            f"ไม่พบกุญแจรหัสแฝง {path} แต่มีข้อมูลที่ประมวลผลแล้วใน {ws.processed}: กุญแจใหม่จะทำให้รหัสแฝงไม่ตรงกับข้อมูลปีก่อน "
            f"ให้นำไฟล์กุญแจเดิมกลับมา หรือลบโฟลเดอร์ data/processed เพื่อเริ่มใหม่ / "
            f"the pseudonym key {path} is missing but {ws.processed} already holds processed data: a new key would give "
            f"pseudonyms that no longer match previous years. Restore the key file (or set {KEY_ENV}), "
            f"or delete data/processed to start over."
        )
    if not create:
        raise KeyFileError(f"the pseudonym key {path} does not exist")
    return _create_key(path)


def _read_key(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"อ่านไฟล์กุญแจไม่ได้ / cannot read the pseudonym key {path}: {e.strerror}") from None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("pseudonym key %s is readable by others (mode %o); run: chmod 600 %s", path, mode, path)
    if len(data) == KEY_BYTES:
        return data
    text = data.strip()
    if re.fullmatch(rb"[0-9a-fA-F]{64}", text):  # a key restored as hex text
        return bytes.fromhex(text.decode())
    raise KeyFileError(f"ไฟล์กุญแจผิดรูปแบบ / the pseudonym key {path} is malformed: expected {KEY_BYTES} bytes (or 64 hex characters)")


def _create_key(path: Path) -> bytes:
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
        os.chmod(parent, 0o700)  # mkdir's mode is filtered by the umask
    key = secrets.token_bytes(KEY_BYTES)
    tmp = parent / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and never overwrites a key another process just made
    except FileExistsError:
        os.unlink(tmp)
        return _read_key(path)
    except OSError:
        os.replace(tmp, path)
    else:
        os.unlink(tmp)
    log.info("created pseudonym key %s", path)
    return key


try:  # the C function behind hmac.digest, without its Python wrapper (a third faster per value)
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # pragma: no cover - other Python builds
    _hmac_digest = hmac.digest


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed hash of each value: HMAC-SHA256 under ``key``, first 16 hex characters.

    Parameters
    ----------
    values : Series
        Identifiers as strings (e.g. normalised citizen IDs or house codes).
    key : bytes

    Returns
    -------
    Series
        ``str`` dtype, missing where the input is missing.

    Examples
    --------
    >>> pseudonymise(pd.Series(["1101700230708"]), b"k" * 32).str.len().tolist()
    [16]
    """
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise KeyFileError("a pseudonym key of at least 16 bytes is needed")
    key = bytes(key)
    digest = _hmac_digest
    codes, uniq = pd.factorize(values, use_na_sentinel=True)  # a house code repeats once per member
    hashed = [digest(key, str(v).encode("utf-8"), "sha256").hex()[:HASH_CHARS] for v in np.asarray(uniq, dtype=object)]
    out = np.array(hashed + [None], dtype=object)[codes]
    return pd.Series(out, index=values.index, name=values.name, dtype="str")


def pseudonym_ids(keys: pd.Series) -> pd.Series:
    """Each pseudonym's 16 hex digits read as one signed 64-bit integer (two's complement).

    The same information as the pseudonym, as a number: equal pseudonyms give equal ids and
    different ones different ids, and sorting the ids as unsigned numbers sorts the pseudonyms
    (ingest numbers the households in that order: ``hh_id``).

    Parameters
    ----------
    keys : Series
        Pseudonyms as :func:`pseudonymise` returns them.

    Returns
    -------
    Series
        ``Int64``, missing where ``keys`` is missing.

    Raises
    ------
    ValueError
        When a value is not 16 hexadecimal digits.

    Examples
    --------
    >>> pseudonym_ids(pd.Series(["0000000000000001", "ffffffffffffffff", None])).tolist()
    [1, -1, <NA>]
    """
    codes, uniq = pd.factorize(keys, use_na_sentinel=True)  # a house key repeats once per member
    uniq = [str(u) for u in np.asarray(uniq, dtype=object)]
    bad = [u for u in uniq if len(u) != HASH_CHARS]
    if bad:
        raise ValueError(f"not a {HASH_CHARS}-hex-digit pseudonym: {bad[0]!r}")
    ids = np.frombuffer(bytes.fromhex("".join(uniq)), dtype=">i8").astype(np.int64)  # ValueError on a non-hex digit
    out = np.append(ids, 0)[codes]
    return pd.Series(pd.arrays.IntegerArray(out, codes < 0), index=keys.index, name=keys.name)


# ---------------------------------------------------------------------------------------------
# masking values that are shown to people (quarantine.csv lives in data/processed too)

_HIDDEN = {
    "first_name": "ชื่อ (ซ่อน) / name (hidden)",
    "last_name": "นามสกุล (ซ่อน) / surname (hidden)",
    "head_name": "ชื่อ (ซ่อน) / name (hidden)",
    "title": "คำนำหน้า (ซ่อน) / title (hidden)",
    "house_no": "บ้านเลขที่ (ซ่อน) / house number (hidden)",
}
_ID_RUN = re.compile(r"(?<!\d)(\d)[\s-]?(\d{4})[\s-]?(\d{5})[\s-]?(\d{2})[\s-]?(\d)(?!\d)")


def mask_id(text: str) -> str:
    """Hide the middle of every 13-digit run (a possible citizen ID): ``1-2345-xxxxx-xx-3``."""
    return _ID_RUN.sub(lambda m: f"{m.group(1)}-{m.group(2)}-xxxxx-xx-{m.group(5)}", text)


def mask_value(column: str, value) -> str:
    """The text of a raw value as it may be shown in ``quarantine.csv``.

    Names and house numbers are replaced by a placeholder; citizen IDs keep their first five
    digits and the last (``1-2345-xxxxx-xx-3``); house codes keep the village code
    (``50010621xxx``); any other value has every 13-digit run masked the same way.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = str(value)
    if column in _HIDDEN:
        return _HIDDEN[column]
    if column == "citizen_id":
        digits = re.sub(r"\D", "", text)
        if len(digits) == 13:
            return f"{digits[0]}-{digits[1:5]}-xxxxx-xx-{digits[12]}"
        return (text[0] + "x" * (len(text) - 1)) if len(text) > 1 else "x"
    if column == "house_code":
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 8:
            return digits[:8] + "x" * (len(digits) - 8)
        return "x" * len(text)
    return mask_id(text)[:200]
