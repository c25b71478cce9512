"""The KM document's narrative blocks: profile text as the reader sees it, gaps marked, no names in public."""
from __future__ import annotations

from dataclasses import replace

from vilwork import km, needs
from vilwork.publish import model as m
from vilwork.village import Village
from vilwork.workspace import Workspace

CODE = "99010101"

PROFILE = """\
management:
  place: ศาลาประชาคมหมู่ 1 ข้างวัดบ้านหนองบัว ใช้เป็นที่ประชุมและติดบอร์ดข้อมูลของหมู่บ้านมาตั้งแต่ปี 2561
  equipment: [คอมพิวเตอร์ 1 เครื่อง, เครื่องพิมพ์]
"""


def _profile(tmp_path, text: str) -> needs.Profile:
    ws = Workspace(tmp_path)
    v = Village(ws, CODE, 2562)
    v.raw_dir.mkdir(parents=True)
    (v.raw_dir / "profile.yaml").write_text(text, encoding="utf-8")
    return needs.load_profile(v)


def test_management_sub_fields_are_a_two_column_table_with_gaps_marked(tmp_path):
    blocks = km._narrative(_profile(tmp_path, PROFILE), "management", "th")
    table, gaps = blocks[0], blocks[1:]
    assert isinstance(table, m.Table)  # long text wraps in a table cell, not a big-number card
    assert table.df.columns.tolist() == ["หัวข้อ", "รายละเอียด"]
    rows = dict(table.df.itertuples(index=False))
    assert rows["สถานที่"].startswith("ศาลาประชาคมหมู่ 1")
    assert rows["วัสดุอุปกรณ์"] == "คอมพิวเตอร์ 1 เครื่อง, เครื่องพิมพ์"
    assert [type(g) for g in gaps] == [m.Gap] and gaps[0].label == "คณะทำงาน"  # the team is still to write


def test_public_team_keeps_roles_not_names(tmp_path):
    text = PROFILE + "  team:\n    - {name: นายสมชาย ใจดี, role: ประธานคณะทำงาน}\n    - {name: นางสาวดวงใจ, role: ผู้บันทึกข้อมูล, consent: ยินยอม}\n"
    prof = _profile(tmp_path, text)
    public = replace(prof, data=km.roles_not_names(prof.data))
    rows = dict(km._narrative(public, "management", "th")[0].df.itertuples(index=False))
    assert rows["คณะทำงาน"] == "ประธานคณะทำงาน, นางสาวดวงใจ — ผู้บันทึกข้อมูล"
    internal = dict(km._narrative(prof, "management", "th")[0].df.itertuples(index=False))
    assert "นายสมชาย ใจดี" in internal["คณะทำงาน"]



def test_profile_entries_are_a_table_with_headers_that_say_what_numbers_are(tmp_path):
    text = ("groups:\n  - {name: กลุ่มแม่บ้านเกษตรกร, members: 35, activity: แปรรูปผลผลิตการเกษตร}\n"
            "  - {name: กลุ่มออมทรัพย์, members: 1203}\n"
            "integrated_projects:\n  - {name: ผักสวนครัว, year: 2561, result: ลดรายจ่าย}\n"
            "information_needs: [ราคาข้าว, ราคาปุ๋ย]\n")
    prof = _profile(tmp_path, text)
    table = km._narrative(prof, "groups", "th")[0]
    assert isinstance(table, m.Table)
    assert table.df.columns.tolist() == ["ชื่อ", "สมาชิก (คน)", "กิจกรรมหลัก"]
    assert table.df["สมาชิก (คน)"].tolist() == [35, 1203]  # numbers stay numbers (formatted 1,203)
    assert table.df["กิจกรรมหลัก"].tolist() == ["แปรรูปผลผลิตการเกษตร", ""]
    projects = km._narrative(prof, "integrated_projects", "en")[0].df
    assert projects.columns.tolist() == ["Name", "Year (BE)", "Result"] and projects["Year (BE)"].tolist() == ["2561"]
    needs_ = km._narrative(prof, "information_needs", "th")
    assert [type(b) for b in needs_] == [m.Paragraph] and needs_[0].text == "• ราคาข้าว\n\n• ราคาปุ๋ย"
