"""The cases service's errors (statuses are chosen at the edge, in epv_common.problems).

    EpvError
    ├── NotFound
    │     ├── CaseNotFound            the case does not exist, or the caller may not see it
    │     ├── VersionNotFound         no such version of a case the caller sees
    │     ├── CommentNotFound
    │     ├── ShareNotFound           no active share for that user
    │     └── AnalysisNotFound        no such analysis of a case the caller sees
    ├── PermissionDenied
    │     ├── CaseAccessDenied        the caller sees the case but lacks the share level
    │     ├── ShareLevelNotAllowed    the caller's role may not grant that level
    │     └── ImportOnBehalfDenied    only ADMIN+ imports for someone else
    ├── InvalidInput
    │     ├── FinancialDataInvalid    financial_data breaks the engine's structural rules
    │     ├── ShareTargetInvalid      unknown/inactive email, the owner, or a past expiry
    │     ├── LegacyExportInvalid     the body is not a localStorage dump
    │     ├── AnalysisRejected        the engine refused the case's data (its code and field)
    │     └── AgentAnalysisInvalid    an agent's figures break the figure contract
    ├── Gone
    │     └── CaseRestoreExpired      deleted longer ago than the restore window
    ├── Conflict
    │     ├── CaseNotDeleted          restore of a case that is not deleted
    │     └── AnalysisNotRecomputable recheck of an agent's or a legacy analysis
    ├── PreconditionFailed
    │     └── CaseVersionMismatch     If-Match names a version that is no longer current
    └── PreconditionRequired
          └── CaseIfMatchRequired     PUT/PATCH without If-Match
"""

from epv_common.errors import (
    Conflict,
    Gone,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    PreconditionRequired,
)


class CaseNotFound(NotFound):
    code = "case-not-found"
    template = "No case {case_id} that you can see."


class VersionNotFound(NotFound):
    code = "case-version-not-found"
    template = "Case {case_id} has no version {version}."


class CommentNotFound(NotFound):
    code = "comment-not-found"
    template = "No comment {comment_id} on this case."


class ShareNotFound(NotFound):
    code = "share-not-found"
    template = "No active share of this case for {who}."


class AnalysisNotFound(NotFound):
    code = "analysis-not-found"
    template = "Case {case_id} has no analysis {analysis_id}."


class CaseAccessDenied(PermissionDenied):
    code = "case-access-denied"
    template = "This needs {needed} access to the case; you have {have}."


class ShareLevelNotAllowed(PermissionDenied):
    code = "share-level-not-allowed"
    template = "Your role ({role}) may share with {allowed} only, not {level}."


class ImportOnBehalfDenied(PermissionDenied):
    code = "import-on-behalf-denied"
    template = "Only ADMIN and above may import legacy data on behalf of another user."


class FinancialDataInvalid(InvalidInput):
    code = "financial-data-invalid"
    template = "financial_data breaks {count} rule(s)."


class ShareTargetInvalid(InvalidInput):
    code = "share-target-invalid"
    template = "The share request breaks {count} rule(s)."


class LegacyExportInvalid(InvalidInput):
    code = "legacy-export-invalid"
    template = "The body is not a browser localStorage export ({count} problem(s))."


class AnalysisRejected(InvalidInput):
    """The engine's error result (epv-method.md 10.1) as a problem: its `type` ends in the
    engine's code in lower-kebab form, and `code`, `field` and `warnings` are members, so a
    client can act on it without parsing `detail`."""

    template = "The case's financial data cannot be analysed: {message}"

    def __init__(self, *, code: str, field: str | None, message: str,
                 warnings: list[dict[str, str | None]]) -> None:
        self.engine_code, self.field, self.warnings = code, field, warnings
        # One problem type per engine code; the instance attribute shadows the class slug.
        self.code = code.lower().replace("_", "-")  # type: ignore[misc]
        super().__init__(errors=[{"field": field, "rule": code,
                                  "message": message}], message=message)

    def extensions(self):
        return {"code": self.engine_code, "field": self.field, "warnings": self.warnings,
                "errors": self.errors}


class AgentAnalysisInvalid(InvalidInput):
    code = "agent-analysis-invalid"
    template = "The agent's analysis breaks {count} rule(s)."


class AnalysisNotRecomputable(Conflict):
    code = "analysis-not-recomputable"
    template = ("Analysis {analysis_id} was made by {origin} ({kind}), not by this engine: its "
                "figures are kept as given and cannot be recomputed.")

    def extensions(self):
        return {"origin_kind": self.context.get("kind")}


class CaseRestoreExpired(Gone):
    code = "case-restore-expired"
    template = "Case {case_id} was deleted more than {days} days ago and can no longer be restored."


class CaseNotDeleted(Conflict):
    code = "case-not-deleted"
    template = "Case {case_id} is not deleted."


class CaseVersionMismatch(PreconditionFailed):
    code = "case-version-mismatch"
    template = "Case {case_id} is no longer at version {expected} (If-Match); read it again."

    def extensions(self):
        return {"current_version": self.context.get("current")}


class CaseIfMatchRequired(PreconditionRequired):
    code = "case-if-match-required"
    template = "Send If-Match with the case's current ETag (its version) to change it."
