"""Taxonomy import and export: nested JSON, or indented text (one name per line).

Import merges: a node whose name already exists among its siblings is reused, the rest
are created. It runs in the request's transaction, so an error anywhere changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput
from app.names import name_key
from app.projects.models import Project
from app.taxonomy import service
from app.taxonomy.schemas import CategoryCreate, CategorySpec
from app.validation import CategoryName

MAX_NODES = 5000
MAX_DEPTH = service.MAX_DEPTH
_name = TypeAdapter(CategoryName)


def parse_indented(text: str) -> list[CategorySpec]:
    """Indented text to specs: each deeper indentation is a child of the line above."""
    roots: list[CategorySpec] = []
    stack: list[tuple[int, CategorySpec]] = []  # (indent, spec) of the open ancestors
    count = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.replace("\t", "    ")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        try:
            name = _name.validate_python(line.strip())
        except ValidationError as exc:
            message = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidInput(f"line {number}: {message}") from None
        popped: list[int] = []
        while stack and stack[-1][0] >= indent:
            popped.append(stack.pop()[0])
        # Back out to an earlier level only where a line above sat at exactly that level.
        if popped and indent not in popped:
            raise InvalidInput(f"line {number}: the indentation matches no level above")
        spec = CategorySpec(name=name)
        (stack[-1][1].children if stack else roots).append(spec)
        stack.append((indent, spec))
        count += 1
        if len(stack) > MAX_DEPTH:
            raise InvalidInput(f"line {number}: deeper than {MAX_DEPTH} levels")
        if count > MAX_NODES:
            raise InvalidInput(f"more than {MAX_NODES} categories")
    return roots


def _check_size(specs: list[CategorySpec], depth: int = 1) -> int:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"deeper than {MAX_DEPTH} levels")
    total = sum(1 + _check_size(s.children, depth + 1) for s in specs)
    if total > MAX_NODES:
        raise InvalidInput(f"more than {MAX_NODES} categories")
    return total


def import_tree(session: Session, project: Project, specs: list[CategorySpec]) -> tuple[int, int]:
    """Merge ``specs`` into the project's tree; returns (created, already there)."""
    _check_size(specs)
    created = existing = 0

    def merge(parent_id: int | None, items: list[CategorySpec], where: str) -> None:
        nonlocal created, existing
        seen: set[str] = set()
        for spec in items:
            key = name_key(spec.name)
            path = f"{where}/{spec.name}" if where else spec.name
            if key in seen:
                raise InvalidInput(f"{path}: listed twice under the same parent")
            seen.add(key)
            tree = service.load_tree(session, project)
            match = next(
                (c for c in tree.children.get(parent_id, []) if name_key(c.name) == key), None
            )
            if match is None:
                new = CategoryCreate(
                    name=spec.name,
                    parent_id=parent_id,
                    description=spec.description,
                    shortcut=spec.shortcut,
                    color=spec.color,
                )
                node = service.create_category(session, project, new)
                match = node.category
                created += 1
            else:
                existing += 1
            merge(match.id, spec.children, path)

    merge(None, specs, "")
    return created, existing


def export_specs(session: Session, project: Project) -> list[CategorySpec]:
    tree = service.load_tree(session, project)

    def build(parent_id: int | None) -> list[CategorySpec]:
        return [
            CategorySpec(
                name=c.name,
                description=c.description,
                color=c.color,
                shortcut=c.shortcut,
                children=build(c.id),
            )
            for c in tree.children.get(parent_id, [])
        ]

    return build(None)


def to_indented(specs: list[CategorySpec], depth: int = 0) -> str:
    lines: list[str] = []
    for spec in specs:
        lines.append("  " * depth + spec.name)
        child_text = to_indented(spec.children, depth + 1)
        if child_text:
            lines.append(child_text)
    return "\n".join(lines)


def ensure_paths(
    session: Session, project: Project, paths: Iterable[tuple[str, ...]]
) -> dict[tuple[str, ...], int | str]:
    """The category of each path (folder names, root first), created where missing.

    The value is a category id, or the reason the path cannot be a category (a folder
    name that is not a valid category name), for the files under it to report.
    """
    tree = service.load_tree(session, project)
    out: dict[tuple[str, ...], int | str] = {}
    for path in sorted(set(paths)):
        parent_id: int | None = None
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            known = out.get(prefix)
            if isinstance(known, str):
                out[path] = known
                break
            if known is None:
                known = _child_or_new(session, project, tree, parent_id, prefix)
                out[prefix] = known
                if isinstance(known, str):
                    out[path] = known
                    break
            parent_id = known
    return out


def _child_or_new(
    session: Session,
    project: Project,
    tree: service.Tree,
    parent_id: int | None,
    prefix: tuple[str, ...],
) -> int | str:
    name = prefix[-1]
    key = name_key(name)
    match = next((c for c in tree.children.get(parent_id, []) if name_key(c.name) == key), None)
    if match is not None:
        return match.id
    try:
        new = CategoryCreate(name=name, parent_id=parent_id)
    except ValidationError as exc:
        return f"the folder {'/'.join(prefix)!r} cannot be a category: {exc.errors()[0]['msg']}"
    try:
        category = service.create_category(session, project, new).category
    except (InvalidInput, Conflict) as exc:  # deeper than the tree allows, or a look-alike
        return f"the folder {'/'.join(prefix)!r} cannot be a category: {exc}"
    tree.by_id[category.id] = category
    tree.children.setdefault(parent_id, []).append(category)
    return category.id
