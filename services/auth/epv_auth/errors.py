"""The auth service's errors (statuses are chosen at the edge, in epv_common.problems).

    EpvError
    ├── InvalidInput
    │     ├── WeakPassword            a password breaks the policy (field errors name each rule)
    │     ├── InvalidConfig           unknown config key or a value of the wrong type/range
    │     ├── WrongCurrentPassword    a password change with the wrong current password
    │     └── InvalidSetupToken       a password-setup token that is unknown, expired, used or
    │                                 superseded, or whose account is deactivated (never says which)
    ├── NotAuthenticated
    │     ├── InvalidCredentials      wrong email or password (never says which)
    │     ├── InvalidRefreshToken     unknown, expired, or its session ended
    │     └── RefreshTokenReused      a used refresh token came back: the session is ended
    ├── PermissionDenied
    │     ├── RegistrationClosed      self-registration is switched off
    │     ├── RoleChangeDenied        not allowed to grant or change this role / self-change
    │     └── PasswordSetupDenied     not allowed to issue a password-setup token for this user
    ├── NotFound                      (entity=user | session)
    ├── Conflict
    │     ├── EmailTaken              an account with this email exists
    │     ├── LastSuperAdmin          the last active SUPER_ADMIN cannot be demoted/deactivated
    │     └── UserInactive            a password-setup token for a deactivated account
    ├── RateLimited
    │     ├── LoginLocked             too many failed logins for the account or address
    │     └── PasswordSetupLocked     too many invalid password-setup tokens from the address
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


class InvalidSetupToken(InvalidInput):
    code = "invalid-setup-token"
    template = ("This password-setup token is not valid (unknown, expired or already used); "
                "ask an administrator for a new one.")


class PasswordSetupDenied(PermissionDenied):
    code = "password-setup-denied"
    template = "{reason}"


class UserInactive(Conflict):
    code = "user-inactive"
    template = "The account is deactivated; reactivate it first."


class PasswordSetupLocked(RateLimited):
    code = "password-setup-locked"
    template = "Too many invalid password-setup tokens; retry after {retry_after} s."
