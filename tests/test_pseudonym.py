"""Pseudonyms, the key file and masking."""
from __future__ import annotations

import hashlib
import hmac
import stat

import pandas as pd
import pytest

from vilwork.errors import KeyFileError
from vilwork.pseudonym import KEY_ENV, key_path, load_key, mask_id, mask_value, pseudonym_ids, pseudonymise
from vilwork.workspace import Workspace

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def test_pseudonym_is_truncated_hmac_sha256():
    expected = hmac.new(KEY_A, b"1234567890121", hashlib.sha256).hexdigest()[:16]
    out = pseudonymise(pd.Series(["1234567890121"]), KEY_A)
    assert out.tolist() == [expected]


def test_pseudonym_stable_per_key_and_different_across_keys():
    s = pd.Series(["1234567890121", "99010101001", None, "1234567890121"], index=[7, 8, 9, 10])
    a1, a2, b = pseudonymise(s, KEY_A), pseudonymise(s, KEY_A), pseudonymise(s, KEY_B)
    assert a1.tolist() == a2.tolist()
    assert a1.iloc[0] == a1.iloc[3] and a1.iloc[0] != a1.iloc[1]
    assert pd.isna(a1.iloc[2])
    assert a1.index.tolist() == [7, 8, 9, 10]
    assert (a1.dropna() != b.dropna()).all()
    assert a1.dropna().str.fullmatch(r"[0-9a-f]{16}").all()


def test_pseudonym_ids_read_the_hex_digits_as_a_signed_64_bit_integer():
    keys = pd.Series(["0000000000000001", "000000000000ff00", "7fffffffffffffff", "8000000000000000",
                      "ffffffffffffffff", None, "000000000000ff00"], index=list("abcdefg"))
    ids = pseudonym_ids(keys)
    # 0xff00 = 65280; 0x7fff... = 2**63 - 1; 0x8000... and 0xffff... wrap to -2**63 and -1
    assert ids.tolist()[:5] == [1, 65280, 2**63 - 1, -(2**63), -1]
    assert pd.isna(ids["f"]) and ids["g"] == ids["b"]
    assert str(ids.dtype) == "Int64" and ids.index.tolist() == list("abcdefg")


def test_pseudonym_ids_refuse_what_is_no_pseudonym():
    for bad in ("00000000000000g1", "abc", "0123456789abcdef0"):
        with pytest.raises(ValueError):
            pseudonym_ids(pd.Series(["0123456789abcdef", bad]))


def test_short_key_refused():
    with pytest.raises(KeyFileError):
        pseudonymise(pd.Series(["1"]), b"short")


def test_key_created_once_with_private_modes(tmp_path):
    ws = Workspace(tmp_path)
    k1 = load_key(ws)
    path = ws.secrets / "pseudonym.key"
    assert path.read_bytes() == k1 and len(k1) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ws.secrets.stat().st_mode) == 0o700
    assert load_key(ws) == k1
    assert not [p for p in ws.secrets.iterdir() if p.name != "pseudonym.key"]  # no temp files left


def test_key_file_env_override(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere" / "my.key"
    monkeypatch.setenv(KEY_ENV, str(other))
    ws = Workspace(tmp_path / "ws")
    assert key_path(ws) == other
    k = load_key(ws)
    assert other.read_bytes() == k
    assert not (ws.secrets / "pseudonym.key").exists()


def test_hex_key_accepted(tmp_path):
    ws = Workspace(tmp_path)
    ws.secrets.mkdir(mode=0o700)
    (ws.secrets / "pseudonym.key").write_text(KEY_A.hex() + "\n")
    assert load_key(ws) == KEY_A


def test_malformed_key_refused(tmp_path):
    ws = Workspace(tmp_path)
    ws.secrets.mkdir(mode=0o700)
    (ws.secrets / "pseudonym.key").write_bytes(b"too short")
    with pytest.raises(KeyFileError, match="malformed"):
        load_key(ws)


def test_missing_key_with_processed_data_is_an_error(tmp_path):
    ws = Workspace(tmp_path)
    (ws.processed / "households" / "year=2561").mkdir(parents=True)
    (ws.processed / "households" / "year=2561" / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(KeyFileError) as e:
        load_key(ws)
    text = str(e.value)
    assert "restore" in text.lower() and "data/processed" in text
    assert not (ws.secrets / "pseudonym.key").exists()  # no new key was made


def test_mask_values():
    assert mask_value("citizen_id", "1234567890121") == "1-2345-xxxxx-xx-1"
    assert mask_value("citizen_id", "1-2345-67890-12-1") == "1-2345-xxxxx-xx-1"
    assert mask_value("citizen_id", "12345") == "1xxxx"
    assert mask_value("house_code", "99010101001") == "99010101xxx"
    assert mask_value("house_code", "123") == "xxx"
    assert mask_value("first_name", "สมชาย") == "ชื่อ (ซ่อน) / name (hidden)"
    assert "สมชาย" not in mask_value("head_name", "นาย สมชาย")
    assert mask_value("house_no", "12/3").startswith("บ้านเลขที่ (ซ่อน)")
    assert mask_value("sex", "1234567890121") == "1-2345-xxxxx-xx-1"  # an ID typed in the wrong column
    assert mask_value("sex", "ชาย") == "ชาย"
    assert mask_value("sex", None) == ""


def test_mask_id_in_text():
    assert mask_id("ID 1234567890121 and 1 2345 67890 12 1") == "ID 1-2345-xxxxx-xx-1 and 1-2345-xxxxx-xx-1"
    assert mask_id("12345678901234") == "12345678901234"  # 14 digits: not an ID


def test_lost_key_is_one_clear_line_from_the_command(tmp_path, capsys):
    from vilwork.cli import main

    ws = Workspace(tmp_path).ensure()
    pd.DataFrame({"x": [1]}).to_parquet(ws.processed / "households.parquet")  # made with a key now lost
    (ws.raw / "places.csv").write_text("code,level,name_th,name_en\n99,province,ตัวอย่าง,Sample\n", encoding="utf-8")
    assert main(["ingest", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "pseudonym key" in err and "Restore the key file" in err and "Traceback" not in err
    assert not (ws.secrets / "pseudonym.key").exists()  # no new key silently replaces the lost one


def test_key_path_that_is_a_folder_is_a_clear_error(tmp_path):
    ws = Workspace(tmp_path)
    (ws.secrets / "pseudonym.key").mkdir(parents=True)
    with pytest.raises(KeyFileError, match="cannot read the pseudonym key"):
        load_key(ws)
