from __future__ import annotations

import datetime as dt

import pytest
import yaml

from vilwork import i18n
from vilwork.errors import DefinitionError
from vilwork.registry import definitions_dir


def test_dates_are_buddhist_era_in_thai():
    assert i18n.format_date(dt.date(2019, 2, 28)) == "28 กุมภาพันธ์ 2562"
    assert i18n.format_date(dt.date(2019, 2, 28), "en") == "28 February 2019"
    assert i18n.format_datetime(dt.datetime(2026, 11, 23, 9, 5)) == "23 พฤศจิกายน 2569 เวลา 09:05 น."


def test_numbers():
    assert i18n.format_int(1140713) == "1,140,713"
    assert i18n.format_pct(0.875) == "87.5%"
    assert i18n.format_pct(float("nan")) == "–"
    assert i18n.format_baht(38000) == "38,000 บาท"


def test_every_label_has_thai_and_english():
    labels = yaml.safe_load(open(definitions_dir() / "labels.yaml", encoding="utf-8"))
    missing = [k for k, v in labels.items() if not (isinstance(v, dict) and v.get("th") and v.get("en"))]
    assert missing == []


def test_unknown_label_and_language_are_errors():
    with pytest.raises(DefinitionError):
        i18n.t("no-such-label")
    with pytest.raises(DefinitionError):
        i18n.t("tambon", "fr")
