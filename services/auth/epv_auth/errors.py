"""The auth service's errors (statuses are chosen at the edge, in epv_common.problems).

    EpvError
    ├── InvalidInput
    │     ├── WeakPassword            a password breaks the policy (field errors name each rule)
    │     ├── InvalidConfig           unknown config key or a value of the wrong type/range
    │     └── WrongCurrentPassword    a password change with the wrong current password
    ├── NotAuthenticated
    │     ├── InvalidCredentials      wrong email or password (never says which)
    │     ├── InvalidRefreshToken     unknown, expired, or its session ended
    │     └── RefreshTokenReused      a used refresh token came back: the session is ended
    ├── PermissionDenied
    │     ├── RegistrationClosed      self-registration is switched off
    │     └── RoleChangeDenied        not allowed to grant or change this role / self-change
    ├── NotFound                      (entity=user | session)
    ├── Conflict
    │     ├── EmailTaken              an account with this email exists
    │     └── LastSuperAdmin          the last active SUPER_ADMIN cannot be demoted/deactivated
    ├── RateLimited
    │     └── LoginLocked             too many failed logins for the account or address
    └── DependencyUnavailable         (Redis down: revocations or throttling cannot be recorded)
"""

from epv_common.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
    RateLimited,
)


class WeakPassword(InvalidInput):
    code = "weak-password"
    template = "The password breaks {count} rule(s)."


class InvalidConfig(InvalidInput):
    code = "invalid-config"
    template = "The configuration value breaks {count} rule(s)."


class InvalidCredentials(NotAuthenticated):
    code = "invalid-credentials"
    template = "The email or password is wrong."


class InvalidRefreshToken(NotAuthenticated):
    code = "invalid-refresh-token"
    template = "The refresh token is not valid; log in again."


class RefreshTokenReused(NotAuthenticated):
    code = "refresh-token-reused"
    template = "This refresh token was already used; the session has been ended. Log in again."


class RegistrationClosed(PermissionDenied):
    code = "registration-closed"
    template = "Self-registration is closed; ask an administrator for an account."


class RoleChangeDenied(PermissionDenied):
    code = "role-change-denied"
    template = "{reason}"


class EmailTaken(Conflict):
    code = "email-taken"
    template = "An account with this email already exists."


class LastSuperAdmin(Conflict):
    code = "last-super-admin"
    template = "The last active SUPER_ADMIN cannot be demoted or deactivated."


class LoginLocked(RateLimited):
    code = "login-locked"
    template = "Too many failed logins; retry after {retry_after} s."


class WrongCurrentPassword(InvalidInput):
    code = "wrong-current-password"
    template = "The current password is wrong."
