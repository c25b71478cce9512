"""The registry reads definitions as data; these tests pin the facts DOMAIN.md states."""
from __future__ import annotations

import shutil

import pytest

from vilwork import registry
from vilwork.errors import DefinitionError


def test_bmn_2560_2564_has_31_indicators_in_5_groups():
    s = registry.indicator_set(2561)
    assert len(s.indicators) == 31
    # group sizes of the 2560-2564 set: health 7, living 7, education 5, work & income 4, values 8
    assert s.indicators.groupby("group").size().to_dict() == {1: 7, 2: 7, 3: 5, 4: 4, 5: 8}
    assert s.indicator_name(22) == "รายได้เฉลี่ยของคนในครัวเรือนต่อปี"
    assert s.indicator_name(22, "en").startswith("Average income")


def test_units_and_multi_part_rules_follow_the_questionnaire():
    s = registry.indicator_set(2562)
    # 4: 4 items, 5: 4, 8: 2, 11: 8, 13: 4 must all pass; 12 and 14 pass when none of 6 is present
    sizes = {i: len(s.rules[i].items) for i in (4, 5, 8, 11, 13)}
    assert sizes == {4: 4, 5: 4, 8: 2, 11: 8, 13: 4}
    assert s.rules[12].kind == s.rules[14].kind == "none_of"
    assert len(s.rules[12].items) == len(s.rules[14].items) == 6
    assert s.rules[22].uses_threshold
    assert s.rules[1].kind == "min_value" and s.rules[1].value == 2500
    assert set(s.household_indicators()) == {4, 5, 8, 9, 10, 11, 12, 13, 14, 22, 23, 30, 31}


def test_income_threshold_by_year_and_no_silent_default():
    assert registry.threshold(2561) == 38000
    assert registry.threshold(2562) == 38000
    with pytest.raises(DefinitionError, match="2563"):
        registry.threshold(2563)


def test_year_outside_every_period_is_an_error():
    with pytest.raises(DefinitionError, match="2570"):
        registry.indicator_set(2570)


def test_poverty_dimensions_education_is_confirmed_mapping():
    dims = {d.key: d.indicators for d in registry.poverty_dimensions()}
    assert list(dims) == ["health", "living", "education", "income", "access"]
    assert dims["education"] == (15, 16, 17, 19)


def test_kchch2k_seven_aspects_33_indicators_and_configurable_rule():
    k = registry.kchch2k_set(2562)
    assert len(k.aspects) == 7 and len(k.indicators) == 33
    assert k.village_class([1] * 6 + [3] * 27) == 1  # six severe problems: lagging
    assert k.village_class([1] + [3] * 32) == 2
    assert k.village_class([3] * 33) == 3
    assert k.class_name(3) == "ก้าวหน้า"


def test_capital_kinds_and_issue_areas():
    assert [c["key"] for c in registry.capital_kinds()] == ["human", "social", "physical", "natural", "financial"]
    areas = registry.issue_areas()
    assert [a["key"] for a in areas] == ["occupation", "capital", "risk", "poverty", "administration"]
    assert all(1 <= i <= 31 for a in areas for i in a["bmn_indicators"])


def test_aliases_fold_thai_headers_and_english_names():
    al = registry.column_aliases("persons")
    assert al[registry.fold_header("เลขประจำตัวประชาชน")] == "citizen_id"
    assert al[registry.fold_header("  Citizen_ID ")] == "citizen_id"
    assert al[registry.fold_header("ข้อ\u00a06")] == "q6"


def test_a_new_period_is_a_new_folder_not_code(tmp_path, monkeypatch):
    """Adding the 2566-2570 set means copying files and adding a line to periods.yaml."""
    d = tmp_path / "defs"
    shutil.copytree(registry.definitions_dir(), d)
    shutil.copytree(d / "bmn" / "2560-2564", d / "bmn" / "2566-2570")
    with open(d / "periods.yaml", "a", encoding="utf-8") as f:
        f.write("")
    text = (d / "periods.yaml").read_text(encoding="utf-8").replace(
        "kchch2k:", "  - set: 2566-2570\n    first_year: 2566\n    last_year: 2570\n    reference_day: \"03-31\"\nkchch2k:"
    )
    (d / "periods.yaml").write_text(text, encoding="utf-8")
    with open(d / "bmn" / "thresholds.csv", "a", encoding="utf-8") as f:
        f.write("2566,22,40000,baht/person/year,unconfirmed,newer set\n")
    monkeypatch.setenv("VILWORK_DEFINITIONS", str(d))
    registry._thresholds.cache_clear()
    try:
        assert registry.indicator_set(2567).name == "2566-2570"
        assert registry.threshold(2566) == 40000
    finally:
        registry._thresholds.cache_clear()


def test_malformed_rule_is_a_definition_error():
    with pytest.raises(DefinitionError, match="unknown rule kind"):
        registry._parse_rule(99, "any_of", "q1")
    with pytest.raises(DefinitionError, match="min_value"):
        registry._parse_rule(99, "min_value", "income<5")
