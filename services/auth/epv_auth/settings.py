"""The auth service's settings (EPV_ prefix)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from epv_common.settings import ServiceSettings, TokenSettings

DEV_KEY_ENCRYPTION_KEY = "dev-auth-key-encryption-key-change-me"


class Settings(ServiceSettings, TokenSettings):
    service_name: str = "auth"
    port: int = 8001

    # Encrypts signing keys at rest (AES-256-GCM under SHA-256 of this secret).
    auth_key_encryption_key: SecretStr = SecretStr(DEV_KEY_ENCRYPTION_KEY)
    rsa_key_bits: int = Field(2048, ge=2048, le=4096)
    # How long a replica keeps signing with the key it loaded before checking for a rotation
    # made by another replica or the CLI.
    signing_key_recheck_s: float = Field(5.0, gt=0)
    jwks_max_age_s: int = Field(60, ge=0, le=3600)

    refresh_token_ttl_s: int = Field(30 * 86_400, ge=300)
    refresh_cookie_name: str = "epv_refresh"
    refresh_cookie_path: str = "/api/auth"

    # Failed logins per account: after login_max_failures, a lock of base, 2×base, … up to max.
    login_max_failures: int = Field(5, ge=1, le=100)
    login_lock_base_s: int = Field(15, ge=1, le=86_400)
    login_lock_max_s: int = Field(900, ge=1, le=86_400)
    # Failures are counted within this window; locks escalate within the escalation window.
    login_failure_window_s: int = Field(900, ge=1)
    login_lock_escalation_window_s: int = Field(86_400, ge=1)
    # Per address: more lenient, since many users may share one address (an office NAT).
    login_address_max_failures: int = Field(50, ge=1, le=10_000)

    # One-time password-setup tokens (an invited account's first password, or an
    # admin-assisted reset): valid this long after issue. Invalid tokens presented from one
    # address lock it out like failed logins do (same base/max lock lengths).
    password_setup_ttl_s: int = Field(72 * 3600, ge=300, le=30 * 86_400)
    password_setup_address_max_failures: int = Field(20, ge=1, le=10_000)

    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None

    @model_validator(mode="after")
    def _refuse_default_key_outside_dev(self) -> Settings:
        if not self.is_dev and (self.auth_key_encryption_key.get_secret_value()
                                == DEV_KEY_ENCRYPTION_KEY):
            raise ValueError("EPV_AUTH_KEY_ENCRYPTION_KEY must be set outside development")
        if self.login_lock_max_s < self.login_lock_base_s:
            raise ValueError("EPV_LOGIN_LOCK_MAX_S must be at least EPV_LOGIN_LOCK_BASE_S")
        return self
