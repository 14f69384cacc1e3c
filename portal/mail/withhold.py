"""Send-time checks: an email kind may stop its queued messages just before they go out.

`@email(name, withhold_if=check)` registers `check`; delivery calls it with the
rows of that kind in a batch and withholds each row id it returns a reason for
(e.g. a digest to someone who unsubscribed after it was queued). A check sees a
whole batch at once, so it costs one query per batch, not one per message.

A check may also cover a whole lane (register_lane_check): the suppression list
of portal.deliverability withholds every bulk message to an address that
bounced or complained, whatever its kind. It sees the rows no kind's check
withheld already.
"""

# Email name -> check(rows) returning {row id: reason to withhold it} for those of a batch.
_CHECKS: dict = {}
# Lane value -> checks(rows), each returning {row id: reason}, for every row of that lane.
_LANE_CHECKS: dict[str, list] = {}


def register_withhold_check(name: str, check) -> None:
    _CHECKS[name] = check


def register_lane_check(lane: str, check) -> None:
    """Run `check` on every row of `lane` in a batch; registering the same check again changes nothing."""
    checks = _LANE_CHECKS.setdefault(lane, [])
    if check not in checks:
        checks.append(check)


def withhold_reasons(rows) -> dict[int, str]:
    """Why each row of a batch about to be sent must not go out; one check call per kind."""
    by_name: dict[str, list] = {}
    for row in rows:
        if row.name in _CHECKS:
            by_name.setdefault(row.name, []).append(row)
    reasons = {}
    for name, named_rows in by_name.items():
        reasons.update(_CHECKS[name](named_rows))
    for lane, checks in _LANE_CHECKS.items():
        for check in checks:
            lane_rows = [row for row in rows if row.lane == lane and row.id not in reasons]
            if lane_rows:
                reasons.update(check(lane_rows))
    return reasons
