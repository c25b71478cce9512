"""Forum mode (vilwork.forum): entry checks, the append-only votes file, the ranking, the local
HTTP endpoint and the deck page. Fast: no browser, no real deck build (see
tests/test_interactive_browser.py for those)."""
from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from vilwork import forum as F
from vilwork.needs import parse_votes, read_votes
from vilwork.publish.model import KeyFact, Slide
from vilwork.village import Village
from vilwork.workspace import Workspace

CODE = "99010101"
YEAR = 2562
BOM = "\ufeff".encode()
TZ = F.THAI_TZ


def _row(level, code, surveyed, passed):
    return {"year": YEAR, "level": level, "code": code, "indicator": 1.0, "group": 1, "unit": "person",
            "surveyed": surveyed, "passed": passed, "failed": surveyed - passed, "pass_rate": passed / surveyed,
            "source": "records"}


@pytest.fixture()
def village(tmp_path) -> Village:
    """One village failing indicator 1 (3 of 10), which issue area "risk" touches."""
    proc = tmp_path / "data" / "processed"
    proc.mkdir(parents=True)
    for level, code in (("village", CODE), ("tambon", CODE[:6]), ("district", CODE[:4]), ("province", CODE[:2])):
        pd.DataFrame([_row(level, code, 10, 7)]).to_parquet(proc / f"indicators_{level}.parquet", index=False)
    pd.DataFrame([{"code": CODE, "level": "village", "name_th": "บ้าน<ทดสอบ>", "name_en": "Test"}]).to_parquet(
        proc / "places.parquet", index=False)
    return Village(Workspace(tmp_path), CODE, YEAR, run_time=dt.datetime(2026, 1, 2, 3, 4, 5))


def at(h, m, s=0) -> dt.datetime:
    return dt.datetime(2026, 3, 15, h, m, s, tzinfo=TZ)


def records(path: Path) -> list[list[str]]:
    import csv
    import io

    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp874")
    return list(csv.reader(io.StringIO(text, newline="")))


# ------------------------------------------------------------------------------------------
# entries


def test_clean_entry_normalises_text_digits_and_area():
    e = F.clean_entry({"project": "  ถนน\u00a0 คอนกรีต ", "votes": "๑๒", "area": "risk", "note": " ok "})
    assert e == {"project": "ถนน คอนกรีต", "area": "ด้านการบริหารจัดการความเสี่ยงชุมชน (ภูมิคุ้มกัน)", "votes": 12,
                 "note": "ok", "withdraw": False}
    assert F.clean_entry({"project": "x", "votes": 0})["votes"] == 0
    assert F.clean_entry({"project": "x", "votes": "1,200"})["votes"] == 1200
    assert F.clean_entry({"project": "x", "votes": 3, "area": "อาชีพ"})["area"] == "ด้านอาชีพ"


def test_clean_entry_reports_every_problem_at_once():
    with pytest.raises(F.VoteEntryError) as e:
        F.clean_entry({"project": "", "votes": "-3", "area": "ด้านดวงดาว"})
    assert len(e.value.errors) == 3
    assert any("ชื่อโครงการ" in x for x in e.value.errors)
    assert any("0 ถึง 100,000" in x for x in e.value.errors)
    assert any("ดวงดาว" in x for x in e.value.errors)


@pytest.mark.parametrize("votes", ["2.5", "abc", 1.5, True, None, "", 100_001, "1e3"])
def test_clean_entry_refuses_votes_that_are_not_hands(votes):
    with pytest.raises(F.VoteEntryError):
        F.clean_entry({"project": "ถนน", "votes": votes})


@pytest.mark.parametrize("project", ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "a\x07b", "ก" * 121])
def test_clean_entry_refuses_formulas_control_characters_and_long_names(project):
    with pytest.raises(F.VoteEntryError):
        F.clean_entry({"project": project, "votes": 1})


def test_withdrawal_is_zero_votes_with_a_withdraw_note():
    from vilwork.needs import _fold_note, forum_settings

    e = F.clean_entry({"project": "ถนน", "withdraw": True, "votes": 99})
    assert e["votes"] == 0 and e["withdraw"] is True
    assert _fold_note(e["note"]) in forum_settings()["withdraw_notes"]
    assert _fold_note(F.WITHDRAW_NOTE["en"]) in forum_settings()["withdraw_notes"]


# ------------------------------------------------------------------------------------------
# the append-only file


def test_first_entry_creates_the_file_with_bom_and_thai_header(tmp_path):
    p = tmp_path / "v" / "votes.csv"
    out = F.append_vote(p, F.clean_entry({"project": "ถนน, สาย 2", "votes": 5, "area": "poverty"}), now=at(19, 0))
    data = p.read_bytes()
    assert data.startswith(BOM)
    assert records(p) == [["โครงการ", "ด้าน", "คะแนนเสียง", "เวลาบันทึก", "หมายเหตุ"],
                          ["ถนน, สาย 2", "ด้านการแก้ไขปัญหาความยากจน", "5", "2026-03-15T19:00:00+07:00", ""]]
    assert out == {"row": 2, "recorded_at": "2026-03-15T19:00:00+07:00"}


def test_an_edit_is_a_new_row_and_nothing_is_rewritten(tmp_path):
    p = tmp_path / "votes.csv"
    F.append_vote(p, F.clean_entry({"project": "ถนน", "votes": 5}), now=at(19, 0))
    F.append_vote(p, F.clean_entry({"project": "ฝาย", "votes": 7}), now=at(19, 1))
    before = p.read_bytes()
    out = F.append_vote(p, F.clean_entry({"project": "ถนน ", "votes": 9}), now=at(19, 2))
    after = p.read_bytes()
    assert after.startswith(before) and out["row"] == 4
    cur, rejected, history, withdrawn, _ = parse_votes(records(p))
    assert rejected.empty and dict(zip(cur["project"], cur["votes"])) == {"ถนน": 9, "ฝาย": 7}
    assert list(history["status"]) == ["superseded", "current", "current"]


def test_withdrawal_row_removes_the_project_for_stage_2(tmp_path):
    p = tmp_path / "votes.csv"
    F.append_vote(p, F.clean_entry({"project": "ถนน", "votes": 5}), now=at(19, 0))
    F.append_vote(p, F.clean_entry({"project": "ถนน", "withdraw": True}), now=at(19, 5))
    cur, rejected, _h, withdrawn, _ = parse_votes(records(p))
    assert cur.empty and rejected.empty and withdrawn == ["ถนน"]


def test_append_follows_the_files_own_header_order_and_line_ending(tmp_path):
    p = tmp_path / "votes.csv"
    p.write_bytes(b"note,votes,project,time\nfirst,3,Road,2026-03-15 18:00")  # no newline at the end
    F.append_vote(p, F.clean_entry({"project": "Weir", "votes": 4, "note": "youth"}), now=at(19, 0))
    assert p.read_bytes().endswith(b"\n") and b"\r\n" not in p.read_bytes()
    assert records(p)[1:] == [["first", "3", "Road", "2026-03-15 18:00"], ["youth", "4", "Weir", "2026-03-15T19:00:00+07:00"]]


def test_append_to_a_windows_thai_file_stays_cp874(tmp_path):
    p = tmp_path / "votes.csv"
    p.write_bytes("โครงการ,คะแนนเสียง\r\nถนน,3\r\n".encode("cp874"))
    F.append_vote(p, F.clean_entry({"project": "ฝายชะลอน้ำ", "votes": 4}), now=at(19, 0))
    assert p.read_bytes().decode("cp874").endswith("ฝายชะลอน้ำ,4\r\n")
    with pytest.raises(F.VoteEntryError, match="cp874"):
        F.append_vote(p, F.clean_entry({"project": "ถนน 🚜", "votes": 4}), now=at(19, 1))
    assert p.read_bytes().decode("cp874").count("\r\n") == 3  # nothing half-written


def test_a_file_without_a_votes_column_is_not_touched(tmp_path):
    p = tmp_path / "votes.csv"
    p.write_text("ชื่อ,จำนวน\nก,1\n", encoding="utf-8")
    before = p.read_bytes()
    with pytest.raises(F.VoteFileError, match="lacks"):
        F.append_vote(p, F.clean_entry({"project": "ถนน", "votes": 4}))
    assert p.read_bytes() == before


def test_a_clock_behind_the_file_still_makes_the_new_row_the_latest(tmp_path):
    p = tmp_path / "votes.csv"
    F.append_vote(p, F.clean_entry({"project": "ถนน", "votes": 5}), now=at(20, 0))
    out = F.append_vote(p, F.clean_entry({"project": "ถนน", "votes": 8}), now=at(9, 0))  # laptop clock wrong
    assert out["recorded_at"] == "2026-03-15T20:00:00+07:00"
    cur, *_ = parse_votes(records(p))
    assert cur["votes"].tolist() == [8]


def test_concurrent_appends_never_interleave(tmp_path):
    p = tmp_path / "votes.csv"
    names = [f"โครงการ {i}" for i in range(40)]
    threads = [threading.Thread(target=F.append_vote, args=(p, F.clean_entry({"project": n, "votes": i})))
               for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = records(p)
    assert len(rows) == 41 and sorted(r[0] for r in rows[1:]) == sorted(names)
    assert all(len(r) == 5 for r in rows)


def test_ranking_is_what_stage_2_reads(village):
    p = F.votes_path(village)
    F.append_vote(p, F.clean_entry({"project": "ลานกีฬา", "votes": 12, "area": "occupation"}), now=at(19, 0))
    F.append_vote(p, F.clean_entry({"project": "ป้องกันไข้เลือดออก", "votes": 12, "area": "risk"}), now=at(19, 1))
    F.append_vote(p, F.clean_entry({"project": "ตลาดนัด", "votes": 3}), now=at(19, 2))
    r = F.ranking(village)
    # a tie on 12: the risk area touches the failing indicator 1, so it comes first (forum.yaml)
    assert [(x["rank"], x["project"], x["votes"]) for x in r["rows"]] == [
        (1, "ป้องกันไข้เลือดออก", 12), (1, "ลานกีฬา", 12), (3, "ตลาดนัด", 3)]
    assert r["total"] == 27 and r["rows"][2]["share"] == pytest.approx(3 / 27, abs=1e-4)
    assert "ตัวชี้วัด" in r["rows"][0]["explanation"]
    ranked = read_votes(village).ranked
    assert list(ranked["project"]) == [x["project"] for x in r["rows"]]
    json.dumps(r)


# ------------------------------------------------------------------------------------------
# the local HTTP endpoint


@pytest.fixture()
def server(village, tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "x.css").write_text("body{}", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("no", encoding="utf-8")
    srv = F.ForumServer(village, assets, "<!DOCTYPE html><title>deck</title>", "tok-123", port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def call(srv, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    h = {"Host": f"127.0.0.1:{srv.port}"}
    h.update(headers or {})
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = (r.status, r.getheader("Content-Type"), r.read())
    c.close()
    return out


def post(srv, entry, token="tok-123", **kw):
    return call(srv, "POST", "/api/votes", entry, {"Content-Type": "application/json", "X-Forum-Token": token, **kw})


def test_server_binds_localhost_only(server):
    assert server.server_address[0] == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")


def test_page_assets_and_nothing_else(server):
    status, ctype, body = call(server, "GET", "/")
    assert status == 200 and ctype.startswith("text/html") and b"deck" in body
    assert call(server, "GET", "/assets/x.css")[:2] == (200, "text/css; charset=utf-8")
    assert call(server, "GET", "/assets/../secret.txt")[0] == 404
    assert call(server, "GET", "/assets/%2e%2e/secret.txt")[0] == 404
    assert call(server, "GET", "/etc/passwd")[0] == 404


def test_a_vote_is_saved_and_ranked(server, village):
    status, _, body = post(server, {"project": "ลานกีฬา", "votes": "30", "area": "occupation"})
    j = json.loads(body)
    assert status == 200 and j["ok"] and j["row"] == 2
    assert j["ranking"]["rows"][0]["project"] == "ลานกีฬา" and j["ranking"]["total"] == 30
    assert records(F.votes_path(village))[1][:3] == ["ลานกีฬา", "ด้านอาชีพ", "30"]
    status, _, body = post(server, {"project": "ลานกีฬา", "votes": 31})
    assert json.loads(body)["ranking"]["rows"][0]["votes"] == 31 and len(records(F.votes_path(village))) == 3
    status, _, body = call(server, "GET", "/api/votes")
    assert json.loads(body)["rows"][0]["votes"] == 31
    assert server.entries == 2


def test_refused_requests_write_nothing(server, village):
    path = F.votes_path(village)
    assert post(server, {"project": "x", "votes": 1}, token="wrong")[0] == 403
    assert post(server, {"project": "x", "votes": 1}, Host="evil.example:80")[0] == 403  # DNS rebinding
    assert call(server, "POST", "/api/votes", {"project": "x", "votes": 1}, {"X-Forum-Token": "tok-123",
                                                                          "Content-Type": "text/plain"})[0] == 415
    status, _, body = post(server, {"project": "", "votes": -1})
    assert status == 400 and len(json.loads(body)["errors"]) == 2
    assert post(server, b"{not json", )[0] == 400
    assert post(server, {"project": "x" * 20000, "votes": 1})[0] == 413
    assert not path.exists()


# ------------------------------------------------------------------------------------------
# the deck page


def test_deck_page_escapes_text_and_loads_only_local_assets(village):
    fig = go.Figure(go.Bar(x=["สุขภาพ", "การศึกษาและการเรียนรู้"], y=[0.4, 0.9]))
    slides = [Slide("<script>alert(1)</script>", "ข้อความ & ผล", figure=fig, takeaway="สรุป"),
              Slide("ตัวเลข", "", facts=[KeyFact("ครัวเรือน", "157")])]
    page = F.deck_html(village, "tok-</script>", slides=slides)
    assert "<script>alert(1)</script>" not in page
    assert "บ้าน&lt;ทดสอบ&gt;" in page  # the village name from the place list, escaped
    assert "tok-<\\/script>" in page  # the token inside the JSON block cannot close the script
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith("assets/"), url
    assert 'id="vote-form"' in page and 'data-vw="vote"' in page
    assert page.index('data-vw="provenance"') < page.index('data-vw="vote"')  # the vote ends the deck
    assert "&#34;" not in page.split("<style>")[1].split("</style>")[0]  # CSS not mangled by escaping
    for key, name in F._area_choices("th"):
        assert f'<option value="{key}">{name}</option>' in page
    # where the numbers come from, in words the hall reads: no code=value parameters line
    prov = page[page.index('data-vw="provenance"'):page.index('data-vw="vote"')]
    assert "<dt>หมู่บ้าน</dt>" in prov and "<dt>ช่วงข้อมูล</dt>" in prov and "<dt>เวลาที่สร้าง</dt>" in prov
    assert "พารามิเตอร์" not in prov and "audience=" not in prov
    assert "<dt>คุ้มครองข้อมูล</dt><dd>จำนวน 1–4 คนหรือครัวเรือนแสดงเป็น “&lt;5”" in prov


def test_forum_css_is_at_least_32px():
    sizes = [int(x) for x in re.findall(r"font(?:-size)?:\s*(\d+)px", F._CSS)]
    assert sizes and min(sizes) >= 32


def test_forum_figure_large_type_and_long_labels_laid_down():
    fig = go.Figure(go.Bar(x=["การมีงานทำและรายได้", "ค่านิยม"], y=[0.6, 0.3], text=["60%", "30%"]))
    fig.update_layout(title="ชื่อกราฟ")
    fig.update_yaxes(tickformat=".0%")
    fig.add_annotation(text="แท่งลายเส้น = ไม่แสดงจำนวนจริง", font={"size": 13}, showarrow=False, x=0, y=0)
    f = F.forum_figure(fig)
    assert not f.layout.annotations  # small print would be under 32 px at the back of the hall
    bar = f.data[0]
    assert bar.orientation == "h" and list(bar.y) == ["การมีงานทำและรายได้", "ค่านิยม"] and list(bar.x) == [0.6, 0.3]
    assert f.layout.xaxis.tickformat == ".0%" and f.layout.yaxis.autorange == "reversed"
    assert f.layout.title.text is None
    assert f.layout.font.size >= 32 and f.layout.legend.font.size >= 32
    assert f.layout.xaxis.tickfont.size >= 32 and f.layout.yaxis.title.font.size >= 32
    assert bar.textfont.size >= 32 and bar.textposition == "outside"
    assert fig.data[0].orientation is None  # the original is untouched
    short = F.forum_figure(go.Figure(go.Bar(x=[f"{k}k" for k in range(0, 200, 10)], y=np.arange(20))))
    assert short.data[0].orientation is None and short.layout.xaxis.dtick == 2


def test_forum_command_is_registered():
    from vilwork.cli import build_parser

    p = build_parser()
    a = p.parse_args(["forum", "--village", CODE, "--no-browser", "--port", "0"])
    assert a.village == CODE and a.no_browser and a.port == 0
    a = p.parse_args(["explore", "--no-browser", "--port", "9999"])
    assert a.port == 9999 and a.no_browser
