"""Rewrite every golden case's expected.json from the current parser (review with git diff).

Run: .venv/bin/python -m tests.regen_golden
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pages import parse_article

CASES = Path(__file__).resolve().parent / "fixtures" / "pages"


def parse_case(case: Path) -> dict[str, Any]:
    """The item of one case as stored in expected.json (fetched_at varies, so it is left out)."""
    meta = json.loads((case / "meta.json").read_text("utf-8"))
    item = parse_article(
        (case / "page.html").read_bytes(),
        meta["url"],
        content_type=meta.get("content_type"),
        base_url=meta.get("base_url"),
    ).to_dict()
    item.pop("fetched_at")
    return item


def cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "page.html").is_file())


def main() -> None:
    for case in cases():
        text = json.dumps(parse_case(case), ensure_ascii=False, indent=2, sort_keys=True)
        (case / "expected.json").write_text(text + "\n", encoding="utf-8")
        print(f"wrote {case.relative_to(CASES.parent.parent.parent)}/expected.json")


if __name__ == "__main__":
    main()
