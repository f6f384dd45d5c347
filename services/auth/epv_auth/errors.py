"""The auth service's errors (statuses are chosen at the edge, in epv_common.problems).

    EpvError
    └── Conflict
          └── EmailTaken        an account with this email exists
"""

from epv_common.errors import Conflict


class EmailTaken(Conflict):
    code = "email-taken"
    template = "An account with this email already exists."
