"""manifest.json: what was exported, from what, and what was left out and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.exports import naming
from app.exports.options import SPLITS
from app.exports.service import Plan, categories_at

VERSION = 1
SPLIT_METHOD = (
    "stratified by class at the chosen level; near-duplicate groups kept whole in one split; "
    "per class, largest-remainder counts, at least one image in train; seeded shuffle"
)
LAYOUTS = {
    "imagefolder": "<split>/<category path>/<file> with a split, else <category path>/<file>",
    "csv": "labels.csv, one row per image; files under images/ laid out as ImageFolder",
    "coco": "annotations.json (COCO-style, classification: no boxes); files under images/",
}


@dataclass
class Tally:
    """What was actually written, counted as it streams."""

    per_class: Counter[int] = field(default_factory=Counter)
    per_split: dict[str, Counter[int]] = field(default_factory=dict)
    by_source: Counter[str] = field(default_factory=Counter)
    by_annotator: Counter[str] = field(default_factory=Counter)
    missing_files: int = 0
    skipped_changed: int = 0  # labeled when planned, no longer labeled when read

    def add(self, class_id: int, split: str | None, source: str | None, user: str | None) -> None:
        self.per_class[class_id] += 1
        if split is not None:
            self.per_split.setdefault(split, Counter())[class_id] += 1
        self.by_source[source or "(none)"] += 1
        self.by_annotator[user or "(deleted or unknown user)"] += 1

    @property
    def total(self) -> int:
        return sum(self.per_class.values())


def build(plan: Plan, tally: Tally, exported_at: datetime) -> dict[str, Any]:
    opts, tree = plan.options, plan.tree
    paths = {c: "/".join(p) for c, p in plan.classes.items()}
    tally.skipped_changed = plan.total - tally.total - tally.missing_files
    classes = [
        {
            "id": c.id,
            "name": c.name,
            "path": paths[c.id],
            "folder": naming.folder(plan.classes[c.id]),
            "count": tally.per_class[c.id],
        }
        for c in categories_at(plan)
    ]
    return {
        "curator_export": VERSION,
        "project": {"id": plan.project.id, "name": plan.project.name},
        "exported_at": exported_at.isoformat(),
        "format": opts.format,
        "layout": LAYOUTS[opts.format],
        "images_included": opts.format == "imagefolder" or opts.images,
        "level": opts.level,
        "split": {
            "enabled": opts.split,
            "ratios": dict(zip(SPLITS, opts.ratios, strict=True)),
            "seed": opts.seed,
            "method": SPLIT_METHOD if opts.split else None,
        },
        "counts": {
            "total": tally.total,
            "per_class": {paths[c]: n for c, n in sorted(tally.per_class.items())},
            "per_split": {
                s: {paths[c]: n for c, n in sorted(tally.per_split.get(s, Counter()).items())}
                for s in SPLITS
                if opts.split
            },
            "left_out": {
                "rejected": plan.left_out["rejected"],
                "unlabeled": plan.left_out["unlabeled"],
                "above_level": plan.left_out["above_level"],
                "missing_file": tally.missing_files,
                "changed_during_export": tally.skipped_changed,
            },
        },
        "classes": classes,
        "taxonomy": [
            {
                "id": n.category.id,
                "name": n.category.name,
                "path": n.path,
                "parent_id": n.category.parent_id,
                "depth": n.depth,
            }
            for n in tree.depth_first()
        ],
        "label_sources": {
            "note": "the latest annotation of each exported image; per image in csv/coco rows",
            "by_source": dict(sorted(tally.by_source.items())),
            "by_annotator": dict(sorted(tally.by_annotator.items())),
        },
    }
