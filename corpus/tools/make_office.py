"""Build the sample documents a plant keeps outside Markdown: a scanned SOP (an image-only PDF in
Traditional Chinese), an Excel inspection sheet with a parameter table, a PowerPoint training
deck. Run:  .venv/bin/python corpus/tools/make_office.py  (needs a CJK font: fonts-wqy-microhei)
"""

from __future__ import annotations

import random
from pathlib import Path

from openpyxl import Workbook
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pptx import Presentation
from pptx.util import Inches, Pt

SOP = Path(__file__).resolve().parent.parent / "sop"
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

SCAN_PAGES = [
    [
        "紙箱封箱作業標準書",
        "文件編號：SOP-PK-005　版次：A　生效日期：2024-04-15",
        "",
        "1. 目的",
        "規範成品紙箱封箱的方式，避免運送途中箱底破裂或開箱。",
        "",
        "2. 作業步驟",
        "1. 確認紙箱規格與出貨單相符，箱體不可有破損或受潮。",
        "2. 使用寬度 48 mm 的透明 OPP 膠帶，不可使用牛皮紙膠帶。",
        "3. 箱底以「工」字形封箱：中縫一道，兩側邊各一道。",
        "4. 膠帶兩端延伸至側面至少 50 mm，並用手壓平不可有氣泡。",
        "5. 每箱重量超過 15 kg 時，箱底中縫須加貼第二道膠帶。",
    ],
    [
        "3. 檢查與記錄",
        "1. 每班開工時以拉力計抽測三箱，膠帶剝離力不得低於 8 N。",
        "2. 封箱機的膠帶刀片每 5000 箱更換一次，並記錄於保養表。",
        "3. 發現箱底破裂時停止出貨，通知品保課長確認。",
        "",
        "注意：封箱刀片鋒利，更換時須戴防割手套。",
    ],
]


def scanned_pdf(path: Path) -> None:
    """Each page drawn as a 200 dpi grey scan, slightly turned and blurred, saved as images."""
    font = ImageFont.truetype(FONT, 34)
    rng = random.Random(5)
    pages = []
    for lines in SCAN_PAGES:
        page = Image.new("L", (1654, 2339), 250)  # A4 at 200 dpi
        draw = ImageDraw.Draw(page)
        y = 160
        for line in lines:
            draw.text((150, y), line, fill=25, font=font)
            y += 62 if line else 40
        page = page.rotate(rng.uniform(-0.8, 0.8), fillcolor=250).filter(
            ImageFilter.GaussianBlur(0.6)
        )
        pages.append(page)
    pages[0].save(path, "PDF", resolution=200.0, save_all=True, append_images=pages[1:])


PARAMETERS = [
    ("料管溫度", "前段", 225, "±5", "°C", "每 2 小時"),
    ("料管溫度", "中段", 215, "±5", "°C", "每 2 小時"),
    ("料管溫度", "後段", 200, "±5", "°C", "每 2 小時"),
    ("模具溫度", "公模", 55, "±3", "°C", "每班"),
    ("射出壓力", "一段", 85, "±3", "MPa", "每班"),
    ("保壓時間", "—", 6, "±0.5", "s", "每班"),
    ("冷卻時間", "—", 18, "±1", "s", "每班"),
]


def inspection_sheet(path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "成型條件"
    sheet.append(["HX-200 外殼 射出成型條件檢驗表"])
    sheet.merge_cells("A1:F1")
    sheet.append(["文件編號", "SIP-IM-003", "版次", "B", "生效日期", "113.05.01"])
    sheet.append([])
    sheet.append(["檢驗項目", "位置", "設定值", "公差", "單位", "檢驗頻率"])
    for row in PARAMETERS:
        sheet.append(list(row))
    sheet.append([])
    sheet.append(["判定", "任一項超出公差即停機，通知成型課領班調機並記錄於異常單。"])
    visual = book.create_sheet("外觀檢驗")
    visual.append(["缺陷", "允收標準", "檢驗方式"])
    visual.append(["縮水", "深度 ≤ 0.05 mm，A 面不允許", "目視 + 深度規"])
    visual.append(["銀紋", "B 面長度 ≤ 3 mm，A 面不允許", "目視，距離 30 cm"])
    visual.append(["結合線", "不可有裂開，長度 ≤ 10 mm", "目視"])
    hidden = book.create_sheet("舊版條件")
    hidden.append(["料管溫度", 240])
    hidden.sheet_state = "hidden"
    book.create_sheet("空白")
    book.properties.title = "HX-200 外殼射出成型條件檢驗表"
    book.save(path)


SLIDES = [
    ("5S 的目的", ["整理、整頓、清掃、清潔、素養", "減少找東西的時間，讓異常一眼看得出來"],
     "講師提醒：開場先請學員說出自己工作站最常找不到的工具。"),
    ("整理：紅牌作戰", ["三個月內沒用過的物品貼上紅牌", "紅牌物品移到紅牌區，由課長一週內判定報廢或保留"],
     "紅牌區設在倉庫東側，紅牌要貼在物品正面看得到的地方。"),
    ("整頓：定位與標示", ["工具以形跡板定位", "地面通道以黃色膠帶標示，寬度 5 cm"], ""),
]


def training_deck(path: Path) -> None:
    deck = Presentation()
    title = deck.slides.add_slide(deck.slide_layouts[0])
    title.shapes.title.text = "5S 現場管理教育訓練"
    title.placeholders[1].text = "TRN-5S-001 版次 A"
    for heading, bullets, notes in SLIDES:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = heading
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    audit = deck.slides.add_slide(deck.slide_layouts[5])
    audit.shapes.title.text = "5S 稽核評分"
    rows = [("項目", "滿分", "合格分數"), ("整理", "20", "16"), ("整頓", "20", "15"),
            ("清掃", "20", "14")]  # fmt: skip
    table = audit.shapes.add_table(len(rows), 3, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
            table.cell(r, c).text_frame.paragraphs[0].runs[0].font.size = Pt(18)
    deck.core_properties.title = "5S 現場管理教育訓練"
    deck.save(str(path))


if __name__ == "__main__":
    scanned_pdf(SOP / "SOP-PK-005_carton-sealing-scan.pdf")
    inspection_sheet(SOP / "SIP-IM-003_hx200-molding.xlsx")
    training_deck(SOP / "TRN-5S-001_5s-training.pptx")
    print("wrote the scanned SOP, the inspection sheet and the training deck to", SOP)
