"""What JSON Schema cannot say, said to schemathesis (loaded by tests/openapi_conformance.rs).

Trigger rules name the project's touchpoints and carry templates (see
`trigger_definition`). Four operations take requests whose validity relates two values of the request to each
other: a range's `from` before its `to`, time-zone transitions in time order, unique
question ids in a survey, a `show_if` naming an earlier question, a rating's `min` below its
`max`. The OpenAPI document says these in words and the server answers 400 naming the field.

So that `positive_data_acceptance` can hold the server to accepting *every* valid request
(and not be switched off for these operations), a request schemathesis generates as valid
is made valid by these rules before it is sent: the same rules the server applies, written
once more here, deliberately and independently. Requests generated as invalid (negative
mode) are sent untouched, so `negative_data_rejection` still checks that the server refuses
them.
"""

from datetime import datetime, timezone

import schemathesis
from schemathesis.generation import GenerationMode

KEY_MAX = 64
SCORED = {"nps", "csat", "ces", "rating"}
CHOICE = {"single", "multiple"}


def positive(case):
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def unique(key, seen):
    """`key`, or a variant of it not in `seen`, within the key length."""
    n = 2
    candidate = key
    while candidate in seen:
        suffix = f"-{n}"
        candidate = key[: KEY_MAX - len(suffix)] + suffix
        n += 1
    seen.add(candidate)
    return candidate


def fix_choices(choices):
    seen = set()
    for c in choices if isinstance(choices, list) else []:
        if isinstance(c, dict) and isinstance(c.get("key"), str):
            c["key"] = unique(c["key"], seen)


def fix_definition(d):
    """Unique ids and keys, ordered rating scales, `show_if` only where it is meaningful."""
    if not isinstance(d, dict) or not isinstance(d.get("questions"), list):
        return
    ids = set()
    kinds = {}
    for q in d["questions"]:
        if not isinstance(q, dict):
            continue
        if isinstance(q.get("id"), str):
            q["id"] = unique(q["id"], ids)
        kind = q.get("type")
        if kind == "rating":
            lo, hi = q.get("min", 0), q.get("max", 10)
            if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
                q["min"], q["max"] = hi, lo
            elif isinstance(lo, int) and lo == hi:
                q["min"], q["max"] = (lo - 1, hi) if lo > -100 else (lo, hi + 1)
        if kind in CHOICE:
            fix_choices(q.get("options"))
        if kind == "matrix":
            fix_choices(q.get("areas"))
        cond = q.get("show_if")
        if isinstance(cond, dict):
            earlier = kinds.get(cond.get("question"))
            ranged = cond.get("min") is not None or cond.get("max") is not None
            any_of = cond.get("any_of") or []
            if earlier is None or (ranged and earlier not in SCORED) or (any_of and earlier not in CHOICE):
                q["show_if"] = None
        kinds[q.get("id")] = kind


def trigger_definition(d):
    """A trigger rule the server must accept. Its validity depends on the project's names
    (touchpoints, surveys) and on a template language, which JSON Schema cannot state: the
    generated rule keeps its name when that is one, and takes the rest from a rule known to
    read. (The rule parser's own checks are tested case by case in `touchpoint-act`.)"""
    name = d.get("name") if isinstance(d, dict) else None
    if not (isinstance(name, str) and name.strip() and len(name) <= 200):
        name = "Order follow-up"
    return {
        "name": name,
        "when": {"kind": "happens", "touchpoint": "order-completed"},
        "then": {"kind": "webhook", "endpoint": {"url": "http://127.0.0.1:9/hook"}},
        "holdout": 0.1,
    }


# Only these operations: on others the mapping would still wrap the generation.
@schemathesis.hook.apply_to(
    name=[
        "GET /api/volume",
        "POST /api/analytics/retention",
        "POST /api/surveys",
        "PUT /api/surveys/{key}",
        "POST /api/triggers",
        "PUT /api/triggers/{key}",
        "POST /api/triggers/preview",
    ]
)
def map_case(context, case):
    if not positive(case):
        return case
    op = (case.method.upper(), case.path)
    if op == ("GET", "/api/volume") and isinstance(case.query, dict):
        # `to` defaults to today (UTC).
        lo = case.query.get("from")
        hi = case.query.get("to", datetime.now(timezone.utc).date().isoformat())
        if isinstance(lo, str) and isinstance(hi, str) and lo > hi:
            case.query["from"], case.query["to"] = hi, lo
    elif op == ("POST", "/api/analytics/retention"):
        body = case.body if isinstance(case.body, dict) else {}
        q = body.get("query")
        if isinstance(q, dict):
            t = q.get("tz_transitions")
            if isinstance(t, list) and all(isinstance(x, list) and len(x) == 2 for x in t):
                by_time = {}
                for at, off in t:
                    by_time.setdefault(at, off)
                q["tz_transitions"] = [[at, by_time[at]] for at in sorted(by_time)]
            lo, hi = q.get("from"), q.get("to")
            if isinstance(lo, int) and isinstance(hi, int) and lo >= hi:
                q["from"], q["to"] = (hi, lo) if hi < lo else (lo, hi + 1)
    elif op == ("POST", "/api/surveys") and isinstance(case.body, dict):
        fix_definition(case.body.get("definition"))
    elif op == ("PUT", "/api/surveys/{key}"):
        fix_definition(case.body)
    elif op in (("POST", "/api/triggers"), ("POST", "/api/triggers/preview")) and isinstance(case.body, dict):
        case.body["definition"] = trigger_definition(case.body.get("definition"))
        # `preview` is the one key the routes keep for themselves.
        if case.body.get("key") == "preview":
            case.body["key"] = "preview-rule"
    elif op == ("PUT", "/api/triggers/{key}"):
        case.body = trigger_definition(case.body)
    return case
