"""The audit service's errors (statuses are chosen at the edge, in epv_common.problems).

    EpvError
    ├── NotFound
    │     └── EntryNotFound           no entry with that seq (never written, or removed by retention)
    ├── InvalidInput
    │     └── RangeInvalid        `since` after `until`, or `from` after `to`
    └── Conflict
          └── RetentionRefused        the chain up to the cut does not verify: nothing is removed
"""

from epv_common.errors import Conflict, InvalidInput, NotFound


class EntryNotFound(NotFound):
    code = "audit-entry-not-found"
    template = "No audit entry with seq {seq}."

    def __init__(self, *, seq: int) -> None:
        super().__init__(entity="audit entry", seq=seq)


class RangeInvalid(InvalidInput):
    code = "audit-range-invalid"

    def __init__(self, *, lower: str, upper: str) -> None:
        super().__init__(f"'{lower}' must not be after '{upper}'.", errors=[{
            "field": lower, "in": "query", "rule": "range_order",
            "message": f"'{lower}' must not be after '{upper}'."}])


class RetentionRefused(Conflict):
    code = "audit-retention-refused"
    template = ("The chain does not verify up to seq {cut_seq} ({problem} at seq {seq}); "
                "retention would remove the evidence, so nothing was removed.")

    def extensions(self) -> dict:
        return {"verification": self.context.get("verification")}
