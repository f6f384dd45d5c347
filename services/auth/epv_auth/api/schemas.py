"""API models of the auth service (never a password or hash on the way out)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

RoleName = Literal["ANALYST", "SENIOR_ANALYST", "MANAGER", "ADMIN", "SUPER_ADMIN"]

# Generous bounds only: the policy (12–128, common list, email) is checked by the service, so
# each broken rule comes back named. This cap just stops absurd bodies before bcrypt.
PasswordField = Field(max_length=1024)


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = PasswordField
    name: str | None = Field(None, max_length=200)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = PasswordField


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(None, max_length=256)


class UserRead(BaseModel):
    id: uuid.UUID
    email: str
    name: str | None
    organization: str | None
    role: str
    active: bool
    # Set while an account created for a legacy import has no password of its own yet.
    invited_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    user: UserRead


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    organization: str | None = Field(None, max_length=200)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = PasswordField
    new_password: str = PasswordField


class PasswordSetupIssued(BaseModel):
    token: str = Field(description="Shown once, never again: hand it to the user.")
    token_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    expires_at: datetime
    invited: bool = Field(description="The account has never had a password of its own.")
    superseded: int = Field(description="Earlier tokens of the user that stopped working.")


class PasswordSetupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=256)
    password: str = PasswordField


class SessionRead(BaseModel):
    id: uuid.UUID
    device: str | None
    address: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool


class UserPage(BaseModel):
    items: list[UserRead]
    next_cursor: str | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    role: RoleName | None = None


class ConfigEntry(BaseModel):
    key: str
    value: Any
    type: str
    nullable: bool
    minimum: int | None
    maximum: int | None
    description: str


class ConfigValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any


class KeyRotation(BaseModel):
    kid: str
    previous_kid: str | None
