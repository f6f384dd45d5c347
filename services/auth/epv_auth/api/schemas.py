"""API models of the auth service."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=12, max_length=128)
    name: str | None = Field(None, max_length=200)


class UserRead(BaseModel):
    id: uuid.UUID
    email: str
    name: str | None
    organization: str | None
    role: str
    active: bool
    created_at: datetime
