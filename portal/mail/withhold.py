"""Send-time checks: an email kind may stop its queued messages just before they go out.

`@email(name, withhold_if=check)` registers `check`; delivery calls it with the
rows of that kind in a batch and withholds each row id it returns a reason for
(e.g. a digest to someone who unsubscribed after it was queued). A check sees a
whole batch at once, so it costs one query per batch, not one per message.
"""

# Email name -> check(rows) returning {row id: reason to withhold it} for those of a batch.
_CHECKS: dict = {}


def register_withhold_check(name: str, check) -> None:
    _CHECKS[name] = check


def withhold_reasons(rows) -> dict[int, str]:
    """Why each row of a batch about to be sent must not go out; one check call per kind."""
    by_name: dict[str, list] = {}
    for row in rows:
        if row.name in _CHECKS:
            by_name.setdefault(row.name, []).append(row)
    reasons = {}
    for name, named_rows in by_name.items():
        reasons.update(_CHECKS[name](named_rows))
    return reasons
