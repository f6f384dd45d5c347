"""The cases service's errors (statuses are chosen at the edge, in epv_common.problems).

    EpvError
    └── NotFound
          └── CaseNotFound      the case does not exist, or the caller may not see it
"""

from epv_common.errors import NotFound


class CaseNotFound(NotFound):
    code = "case-not-found"
    template = "No case {case_id} that you can see."
