"""Build the sample DOCX SOP SOP-CNC-004 (CNC 刀具更換) with python-docx.

Run:  /work/main/.venv/bin/python corpus/tools/make_docx.py
Structure the ingest parser relies on: 'Title' = document title, 'Heading 1' = section,
'List Number' paragraphs = steps (numbering restarts in every section), normal paragraphs
starting with 注意：/警告： = note for the preceding step.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

OUT = Path(__file__).resolve().parent.parent / "sop" / "SOP-CNC-004_tool-change.docx"

TITLE = "CNC 刀具更換作業標準"

# (section heading, [body paragraphs], [steps]); a step is a str or (str, note)
SECTIONS = [
    (
        "1. 目的",
        [
            "規範 CNC 立式加工中心機更換刀具、輸入刀長補正及換刀後首件確認的方法，"
            "避免撞刀、刀具掉落及尺寸不良。",
        ],
        [],
    ),
    (
        "2. 適用範圍",
        [
            "適用於機加課 Line 1 之 FANUC ROBODRILL α-D21MiB5 及 Brother SPEEDIO S700X2 (BT30 主軸，21 支刀庫)。"
            "刀具磨耗、崩刃、換料號或刀具壽命到達時均依本標準執行。",
        ],
        [],
    ),
    (
        "3. 安全注意事項",
        [
            "換刀時必須戴防割手套及安全眼鏡；刀具刃口朝下握持，不可以手掌直接握住刀刃。",
            "警告：手伸入加工室前必須按下緊急停止或切換至手動模式並確認主軸完全停止，防護門連鎖不得短接。",
        ],
        [],
    ),
    (
        "4. 換刀前準備",
        [],
        [
            "核對《刀具清單》QF-CNC-004-02 上的刀號、刀具規格與料號，例如 T05 為 φ8 四刃端銑刀 (碳化鎢，TiAlN 鍍層)。",
            (
                "將加工程式停在 M01 或程式結束，確認主軸停止、冷卻液關閉，將模式切換到 MDI。",
                "注意：不可在自動運轉中途按 RESET 取刀，會造成刀庫刀號與實際刀具不一致。",
            ),
            "以氣槍及錐孔清潔棒清潔 BT30 刀把錐面與拉桿 (pull stud)，錐面不可有切屑、冷卻液殘留或撞痕。",
            (
                "將刀具裝入 ER20 夾頭，刀具伸出長度依刀具清單設定 (φ8 端銑刀為 28 mm)，以扭力扳手鎖緊螺帽至 80 N·m。",
                "注意：夾頭與刀柄直徑必須相符，φ8 刀具只能用 φ8 夾頭，不可用 φ8.5 夾頭勉強夾持。",
            ),
            "在對刀儀 (tool presetter) 上量測刀長與刀徑，量測值記在刀把標籤上。",
        ],
    ),
    (
        "5. 換刀步驟",
        [],
        [
            "在 MDI 輸入 T05 M06 執行，將要更換的刀位叫到主軸。",
            (
                "一手托住刀把，另一手按主軸上的鬆刀 (tool unclamp) 按鈕取下舊刀。",
                "注意：鬆刀時刀具會因重力掉落，必須先托穩刀把再按按鈕。",
            ),
            "檢查主軸錐孔，以無塵布擦拭乾淨；確認氣壓 ≥ 0.5 MPa，錐孔吹氣正常。",
            "將新刀把鍵槽對準主軸驅動鍵 (drive key) 裝入，再按一次鬆刀按鈕夾緊，輕拉刀把確認已確實夾持。",
            (
                "以量表 (dial indicator) 量測刀尖偏擺 (runout)，須 ≤ 0.01 mm；超過時取下重新清潔錐面與夾頭。",
                "注意：偏擺過大會使刀具單邊磨耗，刀具壽命大約剩一半。",
            ),
            "進入 OFFSET 畫面，將對刀儀量得的刀長輸入對應刀號的 H 補正 (例如 H05)，磨耗補正歸零。",
            "使用 Renishaw TS27R 機上對刀器以 G65 P9023 自動量測刀長，與對刀儀值差異須 ≤ 0.02 mm，超過時重新量測。",
            "在 FANUC 刀具壽命管理畫面 (Tool Life Management) 將該刀號使用次數歸零，並確認壽命設定值。",
        ],
    ),
    (
        "6. 換刀後確認",
        [],
        [
            (
                "將進給倍率 (feed override) 調至 25%，以單節 (single block) 執行第一件，刀具接近工件時注意剩餘移動量。",
                "注意：第一件嚴禁直接以 100% 快速移動 (rapid) 執行，刀長補正輸入錯誤會直接撞刀。",
            ),
            "首件完成後以三次元或卡尺量測該刀具加工尺寸，送品管判定合格後才可恢復連續生產。",
            "將換刀原因、刀號、刀長補正值及首件結果填入《刀具更換紀錄表》QF-CNC-004-01，並請組長簽核。",
            "舊刀依磨耗狀況分類：可研磨者放入「待研磨」盒送刀具室，崩刃或斷刀放入報廢盒。",
        ],
    ),
]


def _new_num(doc, base_num_id: str) -> str:
    """Create a numbering instance that restarts at 1, sharing the List Number abstractNum."""
    numbering = doc.part.numbering_part.element
    base = numbering.xpath(f'./w:num[@w:numId="{base_num_id}"]')[0]
    abstract_id = base.find(qn("w:abstractNumId")).get(qn("w:val"))
    new_id = str(max(int(n.get(qn("w:numId"))) for n in numbering.findall(qn("w:num"))) + 1)
    num = OxmlElement("w:num")
    num.set(qn("w:numId"), new_id)
    a = OxmlElement("w:abstractNumId")
    a.set(qn("w:val"), abstract_id)
    num.append(a)
    override = OxmlElement("w:lvlOverride")
    override.set(qn("w:ilvl"), "0")
    start = OxmlElement("w:startOverride")
    start.set(qn("w:val"), "1")
    override.append(start)
    num.append(override)
    numbering.append(num)
    return new_id


def _set_num(paragraph, num_id: str) -> None:
    p_pr = paragraph._p.get_or_add_pPr()
    num_pr = OxmlElement("w:numPr")
    ilvl = OxmlElement("w:ilvl")
    ilvl.set(qn("w:val"), "0")
    nid = OxmlElement("w:numId")
    nid.set(qn("w:val"), num_id)
    num_pr.append(ilvl)
    num_pr.append(nid)
    p_pr.append(num_pr)


def build(out: Path = OUT) -> Path:
    doc = Document()
    style_num = doc.styles["List Number"].element.pPr.numPr.numId.val
    doc.add_paragraph(f"SOP-CNC-004 {TITLE}", style="Title")
    for heading, body, steps in SECTIONS:
        doc.add_paragraph(heading, style="Heading 1")
        for text in body:
            doc.add_paragraph(text)
        num_id = _new_num(doc, str(style_num)) if steps else None
        for step in steps:
            text, note = (step, None) if isinstance(step, str) else step
            para = doc.add_paragraph(text, style="List Number")
            _set_num(para, num_id)
            if note:
                doc.add_paragraph(note)
    cp = doc.core_properties
    cp.identifier = "SOP-CNC-004"
    cp.title = TITLE
    cp.version = "A"
    cp.category = "sop"
    cp.language = "zh-TW"
    cp.subject = "CNC 刀具更換"
    cp.author = "機加課"
    cp.created = dt.datetime(2024, 3, 1, 8, 0, 0)
    cp.modified = dt.datetime(2024, 3, 1, 8, 0, 0)
    cp.last_modified_by = "機加課"
    cp.revision = 1
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out


if __name__ == "__main__":
    print(build())
