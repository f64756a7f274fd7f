"""Regenerate corpus/eval/{corpus,queries}.jsonl and qrels/test.tsv from the sample corpus and
corpus/eval/questions/*.yaml. Run after editing a document or a question:

    python corpus/tools/build_eval.py
"""

from __future__ import annotations

from pathlib import Path

from ingest.datasets.evalset import write_eval_set

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    units, questions = write_eval_set(ROOT, ROOT / "eval" / "questions", ROOT / "eval")
    print(f"wrote {units} units and {questions} questions to {ROOT / 'eval'}")
