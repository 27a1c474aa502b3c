"""Bearer-token checks: writes always need PROTEA_API_TOKEN; reads only when asked to.

Without a configured token, writes are refused (and the answer says why) rather than left open.
"""

from __future__ import annotations

import hmac
import os

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="PROTEA_API_TOKEN")


def _check(credentials: HTTPAuthorizationCredentials | None, token: str) -> None:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_writer(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> None:
    token = os.environ.get("PROTEA_API_TOKEN", "")
    if not token:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "writes are disabled: set PROTEA_API_TOKEN on the server to enable them",
        )
    _check(credentials, token)


def require_reader(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> None:
    if os.environ.get("PROTEA_API_PROTECT_READS", "0") != "1":
        return
    token = os.environ.get("PROTEA_API_TOKEN", "")
    if not token:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "reads are protected but PROTEA_API_TOKEN is not set on the server",
        )
    _check(credentials, token)
