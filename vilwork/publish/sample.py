"""A hand-made sample village (demo code 99010101) for the publishers' tests and demos.

Every number here is invented for layout testing; nothing is computed from survey data. The KM
document follows DOMAIN.md: Part 1 general information, Part 2 (2.1–2.6) how the information
village was developed, Part 3 appendix, with Gaps where a village has not written its narrative.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from .model import Card, Document, Figure, Gap, KeyFacts, MapBlock, Paragraph, Section, Slide, Table

VILLAGE_CODE = "99010101"
VILLAGE_NAME = "บ้านหนองบัวทอง หมู่ที่ 1"
PROVINCE = "ตัวอย่าง"


def sample_provenance(village_name: str = VILLAGE_NAME) -> dict:
    return {
        "village": f"{village_name} ({VILLAGE_CODE})",
        "data_period": "จปฐ. 2561–2562, กชช. 2ค 2562",
        "parameters": {"indicator_set": "bmn-2560-2564", "unit": "household"},
        "run_time": dt.datetime(2019, 5, 20, 14, 30),
        "vilwork_version": "0.1.0",
    }


def sample_bar():
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_bar(name="2561", x=["สุขภาพ", "สภาพแวดล้อม", "การศึกษา", "เศรษฐกิจ", "ค่านิยม"],
                y=[88.2, 91.0, 95.4, 72.5, 84.1])
    fig.add_bar(name="2562", x=["สุขภาพ", "สภาพแวดล้อม", "การศึกษา", "เศรษฐกิจ", "ค่านิยม"],
                y=[92.5, 93.1, 96.0, 79.8, 86.3])
    fig.update_layout(title="ร้อยละครัวเรือนที่ผ่านเกณฑ์ จปฐ. รายหมวด", yaxis_title="ร้อยละ",
                      yaxis_range=[0, 100], barmode="group")
    return fig


def sample_line():
    import plotly.graph_objects as go

    years = ["2558", "2559", "2560", "2561", "2562"]
    fig = go.Figure(go.Scatter(x=years, y=[41200, 45800, 52300, 58100, 63400], mode="lines+markers+text",
                               text=["41,200", "45,800", "52,300", "58,100", "63,400"],
                               textposition="top center", name="รายได้เฉลี่ย"))
    fig.update_layout(title="รายได้เฉลี่ยต่อคนต่อปี (บาท)", yaxis_title="บาท/คน/ปี",
                      yaxis_range=[0, 75000], showlegend=False)
    return fig


def sample_pie():
    import plotly.graph_objects as go

    fig = go.Figure(go.Pie(labels=["ทำนา", "ปลูกอ้อย", "รับจ้าง", "ค้าขาย", "อื่น ๆ"],
                           values=[46, 18, 21, 9, 6], hole=0.45, sort=False))
    fig.update_layout(title="อาชีพหลักของครัวเรือน (ร้อยละ)")
    return fig


def sample_table(rows: int = 12) -> pd.DataFrame:
    names = ["ครัวเรือนมีน้ำสะอาดสำหรับดื่ม", "คนอายุ 35 ปีขึ้นไปได้รับการตรวจสุขภาพประจำปี",
             "เด็กอายุ 6–14 ปีได้รับการศึกษาภาคบังคับ 9 ปี", "คนอายุ 15–60 ปีมีอาชีพและรายได้",
             "รายได้เฉลี่ยของคนในครัวเรือนไม่น้อยกว่า 38,000 บาทต่อปี", "ครัวเรือนมีการเก็บออมเงิน",
             "คนในครัวเรือนไม่ดื่มสุรา", "คนในครัวเรือนไม่สูบบุหรี่", "ผู้สูงอายุได้รับการดูแลจากครอบครัว",
             "คนพิการได้รับการดูแลจากครอบครัว", "คนในครัวเรือนมีส่วนร่วมทำกิจกรรมสาธารณะ",
             "ครัวเรือนปลอดภัยในชีวิตและทรัพย์สิน"]
    out = []
    for i in range(rows):
        n = 128 + i
        passed = n - (i * 7) % 23
        out.append({"ตัวชี้วัด": f"{i + 1}. {names[i % len(names)]}", "สำรวจ": n, "ผ่าน": passed,
                    "ร้อยละผ่าน": 100 * passed / n, "รายได้รวม (บาท)": 1_234_567.0 + 10_000 * i})
    return pd.DataFrame(out)


def sample_document(village_name: str = VILLAGE_NAME, map_html=None, map_image=None,
                    long_table_rows: int = 40) -> Document:
    """The KM lesson-learned document of the sample village (Parts 1–3, 2.1–2.6)."""
    map_block = (
        [MapBlock(html_path=map_html, static_image_path=map_image,
                  caption="แผนที่ขอบเขตหมู่บ้านและสถานที่สำคัญ")]
        if (map_html or map_image) else
        [Gap("แผนที่หมู่บ้าน", "วาดด้วย render_map จาก geo/villages_99.geojson และ places.geojson")]
    )
    sections = [
        Section("part1", "ส่วนที่ 1 ข้อมูลทั่วไปของหมู่บ้าน", [
            Gap("ประวัติหมู่บ้าน", "กรอกใน profile.yaml หัวข้อ history"),
            KeyFacts([("ครัวเรือน", "142"), ("ประชากร", "487 คน", "ชาย 239 หญิง 248"),
                      ("รายได้เฉลี่ย", "63,400 บาท", "ต่อคนต่อปี 2562")]),
            Paragraph("บ้านหนองบัวทองตั้งอยู่ริมหนองน้ำใหญ่ ชาวบ้านส่วนใหญ่ประกอบอาชีพเกษตรกรรม ปลูกข้าวหอมมะลิ"
                      "และเลี้ยงโคกระบือ มีการรวมกลุ่มออมทรัพย์เพื่อการผลิตตั้งแต่ปี 2540 และได้รับการคัดเลือกเป็น"
                      "หมู่บ้านเศรษฐกิจพอเพียงต้นแบบของอำเภอ ผู้สูงอายุได้รับการดูแลจากครอบครัวและอาสาสมัคร\n\n"
                      "ข้อความนี้เป็นตัวอย่างสำหรับทดสอบการจัดหน้า ไม่ใช่ข้อมูลจริงของหมู่บ้านใด"),
            Figure(sample_pie(), caption="ที่มา: จปฐ. 2562 (ตัวอย่าง)",
                   takeaway="เกือบครึ่งหนึ่งของครัวเรือนทำนาเป็นอาชีพหลัก"),
            *map_block,
        ]),
        Section("part2", "ส่วนที่ 2 การพัฒนาหมู่บ้านเป็นหมู่บ้านสารสนเทศ", [
            Paragraph("คณะทำงานหมู่บ้านร่วมกับพัฒนาการอำเภอจัดเวทีประชาคมเพื่อวิเคราะห์ข้อมูลและวางแผนพัฒนาคุณภาพชีวิต"),
        ]),
        Section("s2-1", "2.1 การบริหารจัดการ", [
            Paragraph("ใช้ศาลาประชาคมเป็นศูนย์ข้อมูล มีคอมพิวเตอร์ 1 เครื่อง และคณะทำงาน 12 คน"),
        ], level=2),
        Section("s2-2", "2.2 การดำเนินงาน", [
            Figure(sample_bar(), caption="ที่มา: จปฐ. 2561–2562 (ตัวอย่าง)",
                   takeaway="ทุกหมวดดีขึ้น หมวดเศรษฐกิจยังต่ำที่สุด"),
            Figure(sample_line(), caption="ที่มา: จปฐ. (ตัวอย่าง)",
                   takeaway="รายได้เฉลี่ยเพิ่มขึ้นทุกปีตั้งแต่ 2558"),
            Table(sample_table(long_table_rows), caption="ตารางที่ 1 ผลการสำรวจ จปฐ. รายตัวชี้วัด (ตัวอย่าง)",
                  number_format={"ร้อยละผ่าน": "{:,.1f}", "รายได้รวม (บาท)": "{:,.0f}"}),
        ], level=2),
        Section("s2-3", "2.3 ระบบภูมิสารสนเทศ (GIS)", [
            Gap("รายละเอียดกิจกรรมในแผนที่", "กรอกใน profile.yaml หัวข้อ gis_activities"),
        ], level=2),
        Section("s2-4", "2.4 การมีส่วนร่วม", [
            Table(pd.DataFrame({"โครงการ": ["ธนาคารน้ำใต้ดิน", "กลุ่มทอผ้าไหม", "ตลาดชุมชน"],
                                "คะแนนเสียง": [87, 64, 41], "ลำดับ": [1, 2, 3]}),
                  caption="โครงการที่ประชาคมเลือก เรียงตามคะแนน"),
        ], level=2),
        Section("s2-5", "2.5 โครงการบูรณาการ", [
            Gap("กิจกรรมที่ประสบความสำเร็จ", "กรอกใน profile.yaml หัวข้อ integrated_projects"),
        ], level=2),
        Section("s2-6", "2.6 การเผยแพร่", [
            Paragraph("เผยแพร่วิดีโอสั้นและแผนที่หมู่บ้านทางเพจเฟซบุ๊กของหมู่บ้านและกลุ่มไลน์"),
        ], level=2),
        Section("part3", "ส่วนที่ 3 ภาคผนวก", [
            Gap("ภาพกิจกรรม", "ใส่รูปในโฟลเดอร์ villages/99010101/photos"),
        ]),
    ]
    return Document(
        title="องค์ความรู้ (KM) หมู่บ้านสารสนเทศเพื่อการพัฒนาคุณภาพชีวิต",
        subtitle="การถอดบทเรียนหมู่บ้านเป้าหมาย ปีงบประมาณ 2562",
        lang="th",
        village_code=VILLAGE_CODE,
        provenance=sample_provenance(village_name),
        sections=sections,
        village_name=village_name,
        province=PROVINCE,
        date_be="31 พฤษภาคม 2562",
    )


def sample_slides() -> list[Slide]:
    return [
        Slide("ชีวิตความเป็นอยู่ดีขึ้นทุกหมวด", "ครัวเรือนผ่านเกณฑ์ จปฐ. มากขึ้นในปี 2562",
              figure=sample_bar(), takeaway="หมวดเศรษฐกิจยังต่ำที่สุด ควรเป็นเรื่องแรกที่คุยกันวันนี้"),
        Slide("ตัวเลขสำคัญของหมู่บ้าน", "ข้อมูลจากการสำรวจ จปฐ. ปี 2562",
              facts=[("ครัวเรือน", "142"), ("ผ่านทุกตัวชี้วัด", "71%"), ("รายได้เฉลี่ย", "63,400", "บาท/คน/ปี")]),
        Slide("รายได้เพิ่มขึ้นต่อเนื่อง", "รายได้เฉลี่ยต่อคนเพิ่มขึ้นจาก 41,200 เป็น 63,400 บาท",
              figure=sample_line(), takeaway="เพิ่มขึ้นร้อยละ 54 ในห้าปี"),
        Slide("เราจะเลือกทำอะไรก่อน", "ร่วมกันลงคะแนนเลือกโครงการสำหรับแผนพัฒนาคุณภาพชีวิต"),
    ]


def sample_cards() -> list[Card]:
    return [
        Card("ครัวเรือนมีน้ำสะอาดดื่มตลอดปี", "เพิ่มขึ้นจาก 88% ในปี 2561", "97%"),
        Card("ผู้สูงอายุได้รับการตรวจสุขภาพประจำปี", "อาสาสมัครสาธารณสุขออกเยี่ยมทุกบ้าน", "92%"),
        Card("รายได้เฉลี่ยต่อคนต่อปี", "เพิ่มขึ้น 54% ในห้าปี", "63,400 บาท"),
        Card("โครงการที่ประชาคมเลือกอันดับหนึ่ง", "ธนาคารน้ำใต้ดิน 87 เสียง", "อันดับ 1"),
    ]


def sample_geodata():
    """(boundary, places) GeoDataFrames in EPSG:4326 for the sample village."""
    import geopandas as gpd
    from shapely.geometry import Point, Polygon

    boundary = gpd.GeoDataFrame(
        {"village_code": [VILLAGE_CODE], "name_th": [VILLAGE_NAME]},
        geometry=[Polygon([(102.800, 16.430), (102.826, 16.428), (102.835, 16.447), (102.821, 16.462),
                           (102.801, 16.458), (102.793, 16.444)])],
        crs="EPSG:4326",
    )
    places = gpd.GeoDataFrame(
        {"name_th": ["วัดหนองบัวทอง", "โรงเรียนบ้านหนองบัว", "ศาลาประชาคม", "ธนาคารน้ำใต้ดิน",
                     "กลุ่มทอผ้าไหม"],
         "kind": ["วัด", "โรงเรียน", "ศูนย์ข้อมูล", "โครงการ", "กลุ่มอาชีพ"],
         "detail_th": ["ศูนย์รวมจิตใจของชุมชน", "ชั้นอนุบาลถึงประถมศึกษาปีที่ 6", "ศูนย์ข้อมูลหมู่บ้าน",
                       "เริ่มดำเนินการปี 2562", "สมาชิก 24 คน"]},
        geometry=[Point(102.812, 16.446), Point(102.818, 16.440), Point(102.815, 16.450),
                  Point(102.824, 16.452), Point(102.806, 16.437)],
        crs="EPSG:4326",
    )
    return boundary, places


def build_sample_folder(out_dir, *, pdf: bool = True, cards: bool = True, video: bool = True) -> dict:
    """Render the sample village folder (km.html, km.pdf, slides.html, map.html, cards, video).

    Returns a dict of what was written. Used by the browser tests and to measure the size budget.
    """
    from pathlib import Path

    from .cards import render_cards
    from .html import render_html
    from .maps import render_map, render_static_map
    from .slides import render_slides

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    boundary, places = sample_geodata()
    prov = sample_provenance()
    written = {
        "map": render_map(boundary, places, out / "map.html", "แผนที่บ้านหนองบัวทอง หมู่ที่ 1", provenance=prov),
        "static_map": render_static_map(boundary, places, out / "map.svg", "แผนที่บ้านหนองบัวทอง หมู่ที่ 1",
                                        provenance=prov),
    }
    doc = sample_document(map_html=written["map"], map_image=written["static_map"])
    written["km_html"] = render_html(doc, out / "km.html")
    written["slides"] = render_slides(sample_slides(), out / "slides.html", doc)
    if pdf:
        from .pdf import render_pdf

        written["km_pdf"] = render_pdf(doc, out / "km.pdf")
    if cards or video:
        written["cards"] = render_cards(sample_cards(), out / "cards", provenance=prov)
    if video:
        from .video import render_video

        written["video"] = render_video(
            written["cards"], ["น้ำดื่มสะอาดทุกครัวเรือน", "ผู้สูงอายุได้รับการดูแล", "รายได้เพิ่มขึ้นต่อเนื่อง",
                               "ประชาคมเลือกธนาคารน้ำใต้ดิน"],
            out / "km-video.mp4", provenance=prov)
    return written
