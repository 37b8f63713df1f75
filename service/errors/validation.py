"""Request validation errors, as pydantic reports them, reshaped to one entry per field at fault.

``("body", "X", 3, "list[float]", 0)`` becomes ``body.X[3][0]``; the
alternatives a union reports for one value are reduced to the closest, and
the messages of a field merged, so a 422 says what is wrong in the client's
terms, not the schema's.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

MAX_REPORTED_ERRORS = 20
"""At most this many fields are named in one answer."""


def _field(loc: Sequence[Any]) -> str:
    """``("body", "X", 3, "list[float]", 0)`` -> ``"body.X[3][0]"`` (union branch tags dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not _is_branch_tag(part):
            out += f".{part}" if out else part
    return out or "body"


def _is_branch_tag(part: str) -> bool:
    return "[" in part or part in {"float", "int", "str", "bool", "constrained-float", "constrained-int",
                                   "constrained-str", "none", "list", "dict"}


def _pick_union_branches(errors: Sequence[dict]) -> list[dict]:
    """Of the alternatives a union reports for one value, keep the one(s) that came closest.

    A branch whose errors are all plain type mismatches (the value has another
    shape altogether) loses to one with a specific complaint; then fewer
    errors win; ties are all kept (their messages get merged).
    """
    groups: dict[tuple, dict[str, list[dict]]] = {}
    order: list[tuple[Optional[tuple], dict]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        cut = next((i for i, p in enumerate(loc) if isinstance(p, str) and _is_branch_tag(p)), None)
        if cut is None:
            order.append((None, err))
            continue
        prefix = loc[:cut]
        if prefix not in groups:
            groups[prefix] = {}
            order.append((prefix, {}))
        groups[prefix].setdefault(loc[cut], []).append(err)
    out: list[dict] = []
    for prefix, err in order:
        if prefix is None:
            out.append(err)
            continue
        scores = {tag: (all(str(e.get("type", "")).endswith("_type") for e in errs), len(errs))
                  for tag, errs in groups[prefix].items()}
        best = min(scores.values())
        for tag, errs in groups[prefix].items():
            if scores[tag] == best:
                out.extend(errs)
    return out


def field_errors(errors: Sequence[dict]) -> list[dict[str, str]]:
    """One entry per field; alternatives of a union reduced to the closest, then merged."""
    merged: dict[str, dict[str, str]] = {}
    for err in _pick_union_branches(errors):
        if err.get("type") == "json_invalid":
            pos = err["loc"][-1] if len(err.get("loc", ())) > 1 else "?"
            reason = (err.get("ctx") or {}).get("error", "")
            merged.setdefault("body", {"field": "body", "type": "json_invalid",
                                       "message": f"invalid JSON at position {pos}: {reason}"})
            continue
        field = _field(err.get("loc", ()))
        message = str(err.get("msg", "invalid"))
        if field == "body" and isinstance(err.get("input"), (bytes, str)):
            message = "expected a JSON object (send Content-Type: application/json)"
        entry = merged.get(field)
        if entry is None:
            merged[field] = {"field": field, "message": message, "type": str(err.get("type", "invalid"))}
        elif message not in entry["message"].split(", or "):
            entry["message"] += f", or {message}"
    return list(merged.values())


def summary(errors: Sequence[dict[str, str]]) -> str:
    """The fields at fault in one line (``body.X[3][0]: ...; body.params.sigma_v: ...``), the first few only."""
    shown = [f"{e['field']}: {e['message']}" for e in errors[:MAX_REPORTED_ERRORS]]
    if len(errors) > MAX_REPORTED_ERRORS:
        shown.append(f"... and {len(errors) - MAX_REPORTED_ERRORS} more")
    return "; ".join(shown)
