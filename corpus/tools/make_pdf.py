"""Build the sample PDF SOP SOP-BL-002 (steam boiler cold start-up) with fpdf2.

Run:  /work/main/.venv/bin/python corpus/tools/make_pdf.py
Core Helvetica font only, so all text must be latin-1. Layout the ingest parser relies on:
section headings `Section N Title` on their own line, steps `Step N` / `(N)` starting a new
line (wrapped lines are continuation lines), CAUTION:/WARNING:/NOTE: lines after their step.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

OUT = Path(__file__).resolve().parent.parent / "sop" / "SOP-BL-002_boiler-startup.pdf"

DOC_ID = "SOP-BL-002"
TITLE = "Steam Boiler Cold Start-up"
REVISION = "A"

# Each section: (heading, items). An item is ("p", text) body paragraph, ("step", label, text)
# or ("note", text) for a CAUTION/WARNING/NOTE line belonging to the step before it.
SECTIONS = [
    (
        "Section 1 Purpose",
        [
            (
                "p",
                "This procedure describes how to bring the plant steam boiler from the cold, "
                "depressurised state to normal working pressure without thermal shock, water "
                "hammer or furnace explosion. A cold start is any start after the boiler has been "
                "shut down for more than 8 hours or the water temperature is below 80°C.",
            ),
        ],
    ),
    (
        "Section 2 Scope and equipment",
        [
            (
                "p",
                "Applies to boiler B-01 in the utility building: a three-pass fire-tube steam "
                "boiler, 3,000 kg/h, design pressure 10 bar, normal working pressure 7 bar, "
                "with a Weishaupt WM-G20 modulating natural gas burner. Only operators holding a "
                "valid boiler operator licence may start the boiler. Feedwater is softened water "
                "from softener WS-02; the condensate tank operates at 85-90°C.",
            ),
        ],
    ),
    (
        "Section 3 Pre-start checks",
        [
            (
                "step",
                "(1)",
                "Confirm that the permit for any maintenance work is closed, all manholes "
                "and handholes are fitted with new gaskets and no tools are left in the furnace.",
            ),
            (
                "step",
                "(2)",
                "Check feedwater hardness at the softener outlet with the test kit; it must be "
                "below 1 ppm as CaCO3. Regenerate the softener if the result is higher.",
            ),
            (
                "step",
                "(3)",
                "Open the feedwater valves and fill the boiler until the level is at the "
                "middle of the gauge glass (normal water level, NWL).",
            ),
            (
                "step",
                "(4)",
                "Open the air vent valve on top of the shell and the drain valves on the "
                "steam header; keep the main steam stop valve closed.",
            ),
            (
                "step",
                "(5)",
                "Check the gas supply: manual gas cock open, gas pressure at the burner train "
                "gauge 100-150 mbar, no gas smell around the train.",
            ),
            (
                "note",
                "WARNING: If you smell gas, do not operate any switch. Close the main gas valve "
                "outside the boiler house and call the maintenance supervisor.",
            ),
            (
                "step",
                "(6)",
                "Confirm the combustion air inlet louvres are open and the flue damper is "
                "in the open position.",
            ),
        ],
    ),
    (
        "Section 4 Cold start-up",
        [
            (
                "step",
                "Step 1",
                "Switch on the control panel and the feedwater pump; check that the "
                "pump selector is on AUTO and the level controller holds the NWL.",
            ),
            (
                "step",
                "Step 2",
                "Test the low water cut-off: drain the level control column slowly until "
                "the burner lockout and the low-water alarm operate, then refill.",
            ),
            (
                "note",
                "CAUTION: Never start the burner if the low water cut-off test failed. Tag the "
                "boiler out of service and report to the maintenance supervisor.",
            ),
            (
                "step",
                "Step 3",
                "Reset the burner control and press START. The burner performs a "
                "pre-purge of at least 60 seconds before ignition; do not shorten it.",
            ),
            (
                "step",
                "Step 4",
                "After the flame is established, keep the burner on LOW FIRE with the "
                "load selector on MANUAL; the warm-up on low fire takes about 90 minutes.",
            ),
            (
                "note",
                "CAUTION: Raise the water temperature by no more than 50°C per hour. A fast "
                "warm-up cracks tube ends and makes the tube plate joints leak.",
            ),
            (
                "step",
                "Step 5",
                "If the flame fails, the burner locks out. Wait for the post-purge to "
                "finish and reset only once; after a second lockout, stop and find "
                "the cause (ignition electrode, UV flame sensor, gas pressure).",
            ),
            (
                "step",
                "Step 6",
                "When a steady jet of steam comes out of the air vent, at about 0.5 bar, "
                "close the air vent valve.",
            ),
            (
                "step",
                "Step 7",
                "At 1 bar, blow down the gauge glass: close the steam cock, open the drain, "
                "then reopen; the water must return quickly to the same level.",
            ),
            (
                "step",
                "Step 8",
                "At 2 bar, re-tighten the manhole and handhole cover bolts by a quarter "
                "turn because the new gaskets settle when heated.",
            ),
            ("note", "NOTE: Use a ring spanner only; do not extend the spanner with a pipe."),
            (
                "step",
                "Step 9",
                "Continue on low fire until the pressure reaches 5 bar, checking the "
                "water level every 15 minutes.",
            ),
        ],
    ),
    (
        "Section 5 Bringing the boiler on line",
        [
            (
                "step",
                "Step 1",
                "Open the drain valves on the steam header and the steam traps' bypass "
                "valves to remove condensate from the header and the distribution lines.",
            ),
            (
                "step",
                "Step 2",
                "Crack open the main steam stop valve by about one quarter turn and warm "
                "the header for 10 minutes; listen for knocking in the pipes.",
            ),
            (
                "note",
                "CAUTION: Knocking or banging in the pipework means water hammer. Close the "
                "main steam valve at once and drain the header again.",
            ),
            (
                "step",
                "Step 3",
                "When the header is hot and no more condensate comes out, close the "
                "drains and open the main steam valve slowly to fully open, then turn "
                "it back half a turn so it does not stick in the open position.",
            ),
            (
                "step",
                "Step 4",
                "Switch the load selector to AUTO. The burner modulates to hold 7 bar; "
                "the high-pressure limit stops the burner at 8.5 bar and the safety "
                "valve lifts at 10 bar.",
            ),
            (
                "step",
                "Step 5",
                "Perform a 3-second bottom blowdown at the start of each shift, with the "
                "boiler at working pressure and the water level above NWL.",
            ),
        ],
    ),
    (
        "Section 6 Records",
        [
            (
                "p",
                "Record start time, pressure at each hold point, gauge glass blowdown, low water "
                "cut-off test result and feedwater hardness in the Boiler Daily Log QF-BL-002-01. "
                "The shift leader signs the log before the end of the shift. Any lockout, leak or "
                "abnormal noise must be written in the remarks column and reported to the "
                "utilities section.",
            ),
        ],
    ),
]


class SopPdf(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.cell(
            0,
            5,
            f"{DOC_ID} Rev. {REVISION}  {TITLE}",
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")


def build(out: Path = OUT) -> Path:
    pdf = SopPdf(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(f"{DOC_ID} {TITLE}")
    pdf.set_subject("sop")
    pdf.set_author("Utilities section")
    pdf.set_keywords(f"{DOC_ID} revision {REVISION} boiler start-up")
    pdf.set_creation_date(dt.datetime(2024, 2, 1, 8, 0, 0, tzinfo=dt.UTC))
    pdf.add_page()

    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, f"{DOC_ID} {TITLE}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    label_w = 16

    def height(text: str, indent: float) -> float:
        lines = pdf.multi_cell(
            pdf.epw - indent, 5.6, text, dry_run=True, output=MethodReturnValue.LINES
        )
        return len(lines) * 5.6 + 1.5

    for heading, items in SECTIONS:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 7, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
        for item in items:
            kind = item[0]
            if kind == "p":
                pdf.set_font("Helvetica", "", 11)
                pdf.multi_cell(0, 5.6, item[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            elif kind == "step":
                _, label, text = item
                # keep a step and the note that follows it on one page
                pdf.set_font("Helvetica", "B", 11)
                needed = height(text, label_w)
                nxt = items.index(item) + 1
                if nxt < len(items) and items[nxt][0] == "note":
                    needed += height(items[nxt][1], label_w)
                if pdf.will_page_break(needed):
                    pdf.add_page()
                pdf.set_font("Helvetica", "B", 11)
                pdf.cell(label_w, 5.6, label)
                pdf.set_font("Helvetica", "", 11)
                pdf.multi_cell(0, 5.6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            elif kind == "note":
                pdf.set_x(pdf.l_margin + label_w)
                pdf.set_font("Helvetica", "B", 11)
                pdf.multi_cell(0, 5.6, item[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1.5)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out


if __name__ == "__main__":
    print(build())
