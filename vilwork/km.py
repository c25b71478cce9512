"""Stage 4 — the Village and Tambon Development Reports and the KM lesson-learned document.

Documents are assembled from data where data exist; narrative only the village can write comes
from its profile file, and where that is missing the document carries a visible, marked gap.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from . import build, disclosure, needs, understand
from .errors import DefinitionError
from .i18n import format_baht, format_int, format_pct, t
from .publish import model as m
from .sql import cursor
from .village import Village

# ---------------------------------------------------------------------------------------------
# small builders


class MapSlot(m.MapBlock):
    """Where the village map goes; :func:`write_outputs` replaces it with the rendered map."""

    def __init__(self, caption: str):
        self.caption, self.html_path, self.static_image_path, self.folium_map = caption, None, None, None


def _attach_maps(doc: m.Document, html_path: Path, image_path: Path) -> m.Document:
    """A copy of ``doc`` whose map slots point at the rendered map page and picture."""
    sections = []
    for s in doc.sections:
        blocks = [m.MapBlock(html_path=html_path, static_image_path=image_path, caption=b.caption) if isinstance(b, MapSlot) else b
                  for b in s.blocks]
        sections.append(replace(s, blocks=blocks))
    return replace(doc, sections=sections)


_CONSENT_KEYS = ("consent", "name_consent", "public_name")


def roles_not_names(val):
    """A copy of a profile value where every person entry (a mapping with ``name`` and ``role``)
    keeps its role but loses its name, unless the entry says ``consent: true`` (PDPA: the public
    audience sees who does what, not who they are, without the person's consent)."""
    if isinstance(val, dict):
        person = "name" in val and "role" in val
        allowed = person and any(str(val.get(k, "")).strip().lower() in ("true", "yes", "1", "ใช่", "ยินยอม")
                                 for k in _CONSENT_KEYS)
        return {k: roles_not_names(x) for k, x in val.items()
                if not (person and not allowed and k == "name") and k not in _CONSENT_KEYS}
    if isinstance(val, (list, tuple)):
        return [roles_not_names(x) for x in val]
    return val


def _narrative(profile, field: str, lang: str) -> list:
    """Blocks for one profile field: its text, or a marked gap naming the field to fill in."""
    val = profile.get(field)
    if val is None or getattr(val, "missing", False):
        label = getattr(val, "label_en" if lang == "en" else "label_th", None) or field
        hint = getattr(val, "hint", "") or t("gap_hint", lang, field=field)
        return [m.Gap(label, hint)]
    if isinstance(val, dict):  # sub-fields (place, equipment, team): a two-column table, long text wraps
        rows = [(str(k), _plain(x)) for k, x in val.items() if not getattr(x, "missing", False) and _plain(x)]
        gaps = [m.Gap(x.label_en if lang == "en" else x.label_th, x.hint) for x in val.values() if getattr(x, "missing", False)]
        table = [m.Table(pd.DataFrame(rows, columns=[t("profile_topic", lang), t("profile_detail", lang)]))] if rows else []
        return table + gaps
    if isinstance(val, (list, tuple)):
        records = [x for x in val if isinstance(x, dict) and _plain(x)]
        blocks = [_records_table(records, lang)] if records else []
        items = [_plain(x) for x in val if not isinstance(x, dict) and _plain(x)]
        if items:  # one bullet a paragraph
            blocks.append(m.Paragraph("\n\n".join("• " + x for x in items)))
        return blocks or [m.Gap(field, t("gap_hint", lang, field=field))]
    return [m.Paragraph(str(val))]


def _records_table(records: list[dict], lang: str) -> m.Table:
    """Entries such as groups (name, members, activity) or products (name, detail, income) as a
    table whose headers say what each number is; a key without a label keeps its own name."""
    keys = list(dict.fromkeys(k for r in records for k in r))
    df = pd.DataFrame(index=range(len(records)))
    for k in keys:
        text = [_plain(r.get(k)) for r in records]
        nums = pd.to_numeric(pd.Series([x.replace(",", "") or None for x in text], dtype=object), errors="coerce")
        if k != "year" and any(text) and nums[[bool(x) for x in text]].notna().all():
            df[k] = nums.astype("Int64") if (nums.dropna() % 1 == 0).all() else nums  # 1,203 in the table
        else:  # text, and a BE year as a label (2561, not 2,561)
            df[k] = text
    return m.Table(df.rename(columns={k: _key_label(k, lang) for k in keys}))


def _key_label(key: str, lang: str) -> str:
    try:
        return t(f"profile_key_{key}", lang)
    except DefinitionError:
        return key


def _plain(x) -> str:
    """A profile value as one line of text: lists joined by commas, a mapping's values by " — "."""
    if isinstance(x, dict):
        return " — ".join(_plain(y) for y in x.values() if _plain(y))
    if isinstance(x, (list, tuple)):
        return ", ".join(_plain(y) for y in x if _plain(y))
    return "" if x is None else str(x).strip()


def _table(df: pd.DataFrame, caption: str) -> list:
    if df is None or (isinstance(df, pd.DataFrame) and df.empty):
        return [m.Paragraph(caption + ": " + t("no_data", "th"))]
    return [m.Table(df, caption)]


def _frame_and_fig(obj, lang: str, caption: str) -> list:
    """Blocks from a function result that may be a frame, a figure, a note, or a tuple of them."""
    out = []
    parts = obj if isinstance(obj, tuple) else (obj,)
    for p in parts:
        if isinstance(p, pd.DataFrame):
            if not p.empty:
                out.append(m.Table(p, caption))
        elif isinstance(p, str):
            if p:
                out.append(m.Paragraph(p))
        elif p is not None and hasattr(p, "to_plotly_json"):
            out.append(m.Figure(p, caption))
    return out or [m.Paragraph(t("no_data", lang))]


_SUPPRESSION_NOTE = {
    "th": "<5 = 1–4 คน/ครัวเรือน, * = ไม่แสดงเพื่อไม่ให้คำนวณย้อนกลับได้ (คุ้มครองข้อมูลส่วนบุคคล)",
    "en": "<5 = 1–4 people/households, * = hidden so it cannot be worked back (personal data protection)",
}


def _note_suppression(sections: list, lang: str) -> list:
    """Say under every table with a suppressed cell what ``<5`` and ``*`` mean."""
    out = []
    for s in sections:
        blocks = [replace(b, caption=f"{b.caption} · {_SUPPRESSION_NOTE[lang]}")
                  if isinstance(b, m.Table) and disclosure.hides_anything(b.df) else b for b in s.blocks]
        out.append(replace(s, blocks=blocks))
    return out


def _doc(v: Village, title: str, subtitle: str, sections: list) -> m.Document:
    if v.audience == "public":
        sections = _note_suppression(sections, v.lang)
    return m.Document(title=title, subtitle=subtitle, lang=v.lang, village_code=v.code, provenance=v.provenance(), sections=sections)


def _summary_facts(v: Village) -> m.KeyFacts:
    """Six headline numbers: short values, the detail in the note under each."""
    f = v.once(understand.key_facts)
    L = v.lang
    k = f["kchch2k"]
    items = [
        m.KeyFact(t("kf_households", L), format_int(f["households"]) if f["households"] else "–"),
        m.KeyFact(t("kf_persons", L), format_int(f["persons"]) if f["persons"] else "–"),
        m.KeyFact(t("kf_full_pass", L), f"{f['indicators_full_pass']} / {f['indicators_measured']}"),
        m.KeyFact(t("kf_worst", L), format_pct(f["worst_share_failing"]) if f["worst_indicator"] else "–",
                  f"{f['worst_indicator']}. {f['worst_name']}" if f["worst_indicator"] else ""),
        m.KeyFact(t("kf_poor", L), f.get("poor_share_text") or format_pct(f["poor_share"])),
        m.KeyFact(t("kf_kchch", L), f"{k['class']} {k['name']}" if k["available"] else "–",
                  t("kf_kchch_note", L, year=k["year"], severe=k["severe"], moderate=k["moderate"]) if k["available"] else k["text"]),
    ]
    return m.KeyFacts(items)


# ---------------------------------------------------------------------------------------------
# Village Development Report


def vdr_document(v: Village) -> m.Document:
    """The Village Development Report (รายงานการพัฒนาหมู่บ้าน, VDR): data → information for the village."""
    L = v.lang
    problems = v.once(needs.problems_ranked)
    votes = needs.rank_votes(v.once(needs.read_votes))
    tr = v.once(understand.trend)
    sections = [
        m.Section("1", t("vdr_s1", L), [_summary_facts(v), m.Figure(v.once(understand.group_chart), t("chart_groups", L))]),
        m.Section("2", t("vdr_s2", L), [m.Figure(v.once(understand.failing_chart), t("chart_failing", L)),
                                       *_table(needs.display(problems, L), t("vdr_problems", L))]),
        m.Section("3", t("vdr_s3", L), [m.Figure(v.once(understand.poverty_chart), t("chart_poverty", L)),
                                       m.Table(understand.alkire_foster_summary(v), t("af_title", L)),
                                       m.Paragraph(v.once(understand.kchch2k_status)["text"])]),
        m.Section("4", t("vdr_s4", L), _table(tr[["indicator", "name", "before", "after", "direction"]].assign(
            before=lambda d: d["before"].map(format_pct), after=lambda d: d["after"].map(format_pct)) if not tr.empty else tr,
            t("vdr_trend", L, prev=tr.attrs.get("previous", ""), cur=tr.attrs.get("current", "")))),
        m.Section("5", t("vdr_s5", L), _table(needs.display(votes, L), t("vdr_votes", L))),
        m.Section("6", t("vdr_s6", L), [m.Table(v.once(understand.display_indicators), t("chart_indicators", L))]),
    ]
    return _doc(v, t("vdr_title", L), v.title + " · " + v.location, sections)


# ---------------------------------------------------------------------------------------------
# Tambon Development Report


def tambon_villages(v: Village) -> pd.DataFrame:
    """Every village of the village's tambon with its headline numbers for the survey year."""
    tambon = v.code_at("tambon")
    p = v.processed("indicators_village.parquet")
    with cursor() as con:
        ind = con.execute(
            f"""SELECT code, AVG(pass_rate) AS mean_rate,
                       SUM(CASE WHEN pass_rate >= 1 THEN 1 ELSE 0 END) AS full_pass,
                       COUNT(*) AS measured
                FROM read_parquet('{p}')
                WHERE substr(code, 1, 6) = ? AND year = ? AND indicator IS NOT NULL
                  AND unit IN (CASE WHEN source = 'aggregates' THEN 'member' ELSE unit END)
                  AND (source = 'aggregates' OR unit <> 'member')
                GROUP BY code ORDER BY code""", [tambon, v.year]).df()
    pov = v.read("poverty_village.parquet", "substr(code, 1, 6) = ? AND year = ? AND dimension = 'any'", [tambon, v.year])
    lv = v.read("kchch2k_levels.parquet", "substr(village_code, 1, 6) = ? AND year <= ?", [tambon, v.year])
    if not lv.empty:
        lv = lv.sort_values("year").groupby("village_code").tail(1).set_index("village_code")
    L = v.lang
    rows = []
    for _, r in ind.iterrows():
        code = r["code"]
        poor = pov.loc[pov["code"] == code] if not pov.empty else pd.DataFrame(columns=["share", "persons", "poor"])
        poor_text = format_pct(poor["share"].iloc[0]) if len(poor) else "–"
        if len(poor) and v.audience == "public":  # 1..k poor people in a village: a bound (PDPA)
            poor_text = disclosure.share_text(poor["persons"].iloc[0], poor["poor"].iloc[0],
                                              disclosure.small_cell_threshold(), format_pct)
        rows.append({
            t("col_village_code", L): code,
            t("col_village_name", L): v.name_of(code),
            t("col_mean_rate", L): format_pct(r["mean_rate"]),
            t("kf_full_pass", L): f"{int(r['full_pass'])} / {int(r['measured'])}",
            t("kf_poor", L): poor_text,
            t("kf_kchch", L): (v.kchch2k_set.class_name(int(lv.at[code, "class"]), L) if not lv.empty and code in lv.index else "–"),
        })
    return pd.DataFrame(rows)


def tdr_document(v: Village) -> m.Document:
    """The Tambon Development Report (TDR) for the village's tambon: all its villages rolled up."""
    L = v.lang
    tambon = v.code_at("tambon")
    tv = Village(v.ws, v.code, v.year, v.lang, v.audience, v.run_time)
    comp = understand.indicator_comparison(tv)
    tab = pd.DataFrame({
        t("col_indicator", L): comp["indicator"],
        t("col_name", L): comp["name"],
        t("level_tambon", L): comp["tambon"].map(format_pct),
        t("level_district", L): comp["district"].map(format_pct),
        t("level_province", L): comp["province"].map(format_pct),
    })
    worst = comp.dropna(subset=["tambon"]).sort_values("tambon").head(10)
    from . import charts

    fig = charts.hbar([f"{i}. {n}" for i, n in zip(worst["indicator"], worst["name"])], worst["tambon"],
                      colors=[charts.band_color(x) for x in worst["tambon"]],
                      text=[format_pct(x, 0) for x in worst["tambon"]], title=t("tdr_worst", L))
    sections = [
        m.Section("1", t("tdr_s1", L), [m.Table(tambon_villages(v), t("tdr_villages", L))]),
        m.Section("2", t("tdr_s2", L), [m.Figure(fig, t("tdr_worst", L)), m.Table(tab, t("tdr_indicators", L))]),
    ]
    title = t("tdr_title", L)
    return _doc(v, title, f"{t('tambon', L)}{v.name_of(tambon)} ({tambon}) · {v.location}", sections)


# ---------------------------------------------------------------------------------------------
# KM lesson-learned document


def km_document(v: Village) -> m.Document:
    """The KM lesson-learned document with every part of the official outline (ส่วนที่ 1–3)."""
    L = v.lang
    prof = needs.load_profile(v)
    if v.audience == "public":  # leaders and the working team by role, not by name (PDPA)
        prof = replace(prof, data=roles_not_names(prof.data))
    N = lambda f: _narrative(prof, f, L)  # noqa: E731
    # sections whose substance comes from data files: the village's own words are welcome, not required
    N_opt = lambda f: [] if getattr(prof.get(f), "missing", False) else _narrative(prof, f, L)  # noqa: E731
    fig_income, income_facts = v.once(understand.income_vs_threshold)
    boundary, places = v.once(build.village_geo)
    votes_ranked = needs.rank_votes(v.once(needs.read_votes))
    problems = v.once(needs.problems_ranked)
    photos = sorted(p for p in (v.raw_dir / "photos").glob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}) if (v.raw_dir / "photos").exists() else []
    map_block = MapSlot(t("km_map_caption", L)) if (len(boundary) or len(places)) else m.Gap(t("km_1_6", L), t("boundary_none", L))
    area_blocks = []
    for key, (fig, takeaway) in build.area_charts(v).items():
        area_blocks += [m.Figure(fig, takeaway, takeaway=takeaway)]

    part1 = [
        m.Section("1.1", t("km_1_1", L), N("history"), level=2),
        m.Section("1.2", t("km_1_2", L), [_summary_facts(v), m.Figure(understand.population_pyramid(v), t("km_pyramid", L))], level=2),
        m.Section("1.3", t("km_1_3", L), [*N("leaders"), *N("groups"), *N("identity")], level=2),
        m.Section("1.4", t("km_1_4", L), [*N("products"), m.Figure(fig_income, t("km_income", L, thr=format_baht(income_facts["threshold"], L))),
                                          *_frame_and_fig(build.accounts_summary(v), L, t("km_accounts", L)), *N("income_notes")], level=2),
        m.Section("1.5", t("km_1_5", L), N("tourism"), level=2),
        m.Section("1.6", t("km_1_6", L), [map_block, *_table(v.once(build.places_table), t("km_places", L))], level=2),
        m.Section("1.7", t("km_1_7", L), N("culture"), level=2),
        m.Section("1.8", t("km_1_8", L), N("other"), level=2),
    ]
    part2 = [
        m.Section("2.1", t("km_2_1", L), N("management"), level=2),
        m.Section("2.2", t("km_2_2", L), [
            m.Paragraph(t("km_2_2_intro", L)),
            m.Figure(v.once(understand.group_chart), t("chart_groups", L)),
            m.Figure(v.once(understand.failing_chart), t("chart_failing", L)),
            m.Figure(v.once(understand.poverty_chart), t("chart_poverty", L)),
            m.Paragraph(v.once(understand.kchch2k_status)["text"]),
            *N("analysis_presentation")], level=2),
        m.Section("2.3", t("km_2_3", L), [map_block, *_table(v.once(build.places_table), t("km_places", L)), *N_opt("gis_notes")], level=2),
        m.Section("2.4", t("km_2_4", L), [
            *_table(needs.display(problems, L), t("vdr_problems", L)),
            *_table(needs.display(votes_ranked, L), t("vdr_votes", L)),
            *_table(needs.display(needs.plan_table(v, votes_ranked, problems), L), t("km_plan", L)),
            *N("partners"), *N("funding_sources"), *N_opt("participation_notes")], level=2),
        m.Section("2.5", t("km_2_5", L), [*N("integrated_projects"), *area_blocks], level=2),
        m.Section("2.6", t("km_2_6", L), [*N("publication"), m.Paragraph(t("km_2_6_outputs", L))], level=2),
    ]
    part3 = [
        m.Section("3.1", t("km_3_1", L), [m.Image(p, p.stem) for p in photos] or [m.Gap(t("km_photos", L), t("km_photos_hint", L, folder=f"data/raw/villages/{v.code}/photos/"))], level=2),
        m.Section("3.2", t("km_3_2", L), [m.Table(v.once(understand.display_indicators), t("chart_indicators", L))], level=2),
        m.Section("3.3", t("km_3_3", L), _kchch_appendix(v), level=2),
        m.Section("3.4", t("km_3_4", L), [m.Table(understand.data_inventory(v), t("km_inventory", L)),
                                          m.Table(pd.DataFrame(v.provenance_items(), columns=[t("col_item", L), t("col_value", L)]), t("km_provenance", L))], level=2),
    ]
    sections = [
        m.Section("1", t("km_part1", L), [], level=1), *part1,
        m.Section("2", t("km_part2", L), [], level=1), *part2,
        m.Section("3", t("km_part3", L), [], level=1), *part3,
    ]
    return _doc(v, t("km_title", L), v.title + " · " + v.location, sections)


def _kchch_appendix(v: Village) -> list:
    """The village's กชช. 2ค indicator levels (latest data year up to the survey year)."""
    k = v.read("kchch2k.parquet", "village_code = ? AND year <= ?", [v.code, v.year])
    L = v.lang
    if k.empty:
        return [m.Gap(t("src_kchch2k", L), t("kchch_missing", L))]
    year = int(k["year"].max())
    k = k[k["year"] == year].sort_values("indicator")
    ks = v.kchch2k_set
    levels = ks.levels["indicator_levels"]
    tab = pd.DataFrame({
        t("col_indicator", L): k["indicator"].astype(int),
        t("kchch_aspect", L): [ks.aspects.at[int(ks.indicators.at[int(i), "aspect"]), "name_en" if L == "en" else "name_th"] for i in k["indicator"]],
        t("col_name", L): [ks.indicators.at[int(i), "name_en" if L == "en" else "name_th"] for i in k["indicator"]],
        t("kchch_level", L): [f"{int(x)} {levels[int(x)]['name_en' if L == 'en' else 'name_th']}" for x in k["level"]],
    })
    return [m.Paragraph(v.once(understand.kchch2k_status)["text"]), m.Table(tab, t("kchch_table", L, year=year))]


def gaps(doc: m.Document) -> pd.DataFrame:
    """Every marked gap of a document: the section and what the village still has to write."""
    rows = [{"section": s.id, "title": s.title, "missing": b.label, "how": b.hint}
            for s in doc.sections for b in s.blocks if isinstance(b, m.Gap)]
    return pd.DataFrame(rows, columns=["section", "title", "missing", "how"])


# ---------------------------------------------------------------------------------------------
# slides and cards


def forum_slides(v: Village) -> list:
    """Slides for the community forum: one message per slide, a one-line takeaway under each chart."""
    L = v.lang
    f = v.once(understand.key_facts)
    slides = [m.Slide(t("slide_overview", L), t("slide_overview_msg", L, name=v.name), facts=_summary_facts(v).items[:3])]
    g = understand.group_comparison(v)
    best = g.sort_values("village", ascending=False).iloc[0] if not g.empty else None
    worst_g = g.sort_values("village").iloc[0] if not g.empty else None
    if best is not None:
        slides.append(m.Slide(t("slide_groups", L), t("slide_groups_msg", L, best=best["name"], worst=worst_g["name"]),
                              figure=v.once(understand.group_chart),
                              takeaway=t("slide_groups_take", L, worst=worst_g["name"], rate=format_pct(worst_g["village"], 0))))
    if f["worst_indicator"]:
        slides.append(m.Slide(t("slide_failing", L), t("slide_failing_msg", L, name=f["worst_name"], share=format_pct(f["worst_share_failing"], 0)),
                              figure=understand.failing_chart(v, 6),
                              takeaway=t("slide_failing_take", L, name=f["worst_name"])))
    fig_income, inc = v.once(understand.income_vs_threshold)
    if inc.get("households"):
        slides.append(m.Slide(t("slide_income", L), t("slide_income_msg", L, below=inc["below_text"], n=format_int(inc["households"]), thr=format_baht(inc["threshold"], L)),
                              figure=fig_income, takeaway=t("slide_income_take", L, thr=format_baht(inc["threshold"], L))))
    if f["poor_share"] is not None:
        slides.append(m.Slide(t("slide_poverty", L), t("slide_poverty_msg", L, share=format_pct(f["poor_share"], 0)),
                              figure=v.once(understand.poverty_chart), takeaway=t("slide_poverty_take", L)))
    tr = v.once(understand.trend)
    if not tr.empty:
        better = int((tr["change"] > understand.TREND_EPS).sum())
        worse = int((tr["change"] < -understand.TREND_EPS).sum())
        ch = understand.trend_changes(v)
        falls = ch[ch["change"] < 0]
        take = (t("slide_trend_take_down", L, down=falls["name"].iloc[0]) if not falls.empty
                else t("slide_trend_take_up", L, up=ch["name"].iloc[0]) if not ch.empty else None)
        slides.append(m.Slide(t("slide_trend", L), t("slide_trend_msg", L, better=better, worse=worse, prev=tr.attrs["previous"], cur=tr.attrs["current"]),
                              figure=understand.trend_chart(v, changes=ch), takeaway=take))
    votes = needs.rank_votes(v.once(needs.read_votes))
    if not votes.empty:
        top = votes.iloc[0]
        slides.append(m.Slide(t("slide_votes", L), t("slide_votes_msg", L, project=str(top.get("project", top.iloc[1]))),
                              figure=needs.votes_chart(votes, L) if hasattr(needs, "votes_chart") else None,
                              takeaway=t("slide_votes_take", L)))
    return slides


def social_cards(v: Village) -> list:
    """Headline findings for 1080×1080 social-media cards (one finding each)."""
    L = v.lang
    f = v.once(understand.key_facts)
    cards = [m.Card(t("card_full_pass", L), v.title, f"{f['indicators_full_pass']}/{f['indicators_measured']}")]
    if f["worst_indicator"]:
        cards.append(m.Card(t("card_worst", L, name=f["worst_name"]), v.title, format_pct(f["worst_share_failing"], 0)))
    if f["poor_share"] is not None:
        cards.append(m.Card(t("card_poor", L), v.title, format_pct(f["poor_share"], 0)))
    if f["kchch2k"]["available"]:
        cards.append(m.Card(t("card_kchch", L, year=f["kchch2k"]["year"]), v.title, f["kchch2k"]["name"]))
    cards.append(m.Card(t("card_households", L), v.title, format_int(f["households"]) if f["households"] else "–"))
    return cards


# ---------------------------------------------------------------------------------------------
# writing everything


def write_outputs(v: Village, out_dir: str | Path | None = None, *, km_doc=None, vdr_doc=None, tdr_doc=None) -> pd.DataFrame:
    """Write km.pdf, km.html, vdr.html, tdr.html, slides.html, map.html, cards/*.png and km-video.mp4.

    Returns a table of the files written with their sizes.
    """
    from . import publish

    out = Path(out_dir) if out_dir else v.report_dir
    out.mkdir(parents=True, exist_ok=True)
    km_doc = km_doc or km_document(v)
    vdr_doc = vdr_doc or vdr_document(v)
    tdr_doc = tdr_doc or tdr_document(v)
    prov = v.provenance()
    publish.install_assets(out)
    boundary, places = v.once(build.village_geo)
    if len(boundary) or len(places):
        map_html = publish.render_map(boundary, places, out / "map.html", title=v.title, lang=v.lang, provenance=prov)
        map_svg = publish.render_static_map(boundary, places, out / "map.svg", title=v.title, lang=v.lang, provenance=prov)
        km_doc = _attach_maps(km_doc, map_html, map_svg)
    publish.render_html(km_doc, out / "km.html")
    publish.render_html(vdr_doc, out / "vdr.html")
    publish.render_html(tdr_doc, out / "tdr.html")
    publish.render_pdf(km_doc, out / "km.pdf")
    deck = {"title": t("slides_title", v.lang, name=v.name), "subtitle": f"{v.location} · {t('slides_year', v.lang, year=v.year)}",
            "lang": v.lang, "provenance": prov, "village_name": v.name}
    publish.render_slides(forum_slides(v), out / "slides.html", deck)
    cards = social_cards(v)
    pngs = publish.render_cards(cards, out / "cards", provenance=prov, lang=v.lang)
    publish.render_video(pngs, [c.headline for c in cards], out / "km-video.mp4", provenance=prov, lang=v.lang)
    files = sorted(p for p in out.rglob("*") if p.is_file() and "notebooks" not in p.parts)
    return pd.DataFrame({"file": [str(p.relative_to(out)) for p in files], "kB": [round(p.stat().st_size / 1024) for p in files]})
