"""Our access tokens: simplejwt's, refused unless their user_id is one of our integer ids."""

import re

from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

_BIGINT_MAX = 2**63 - 1
_DECIMAL_ID = re.compile(r"[1-9][0-9]{0,18}")  # ASCII only: int() would also read " 1" and "\u0661"


def token_user_id(payload: dict) -> int:
    """The user id a token of ours carries (simplejwt writes it as a string, older tokens as a number).

    Anything else is a token we did not issue: without this check a bool reads as user 1 (True == 1)
    and a string as a query that fails with a 500. Raises TokenError.
    """
    value = payload.get(api_settings.USER_ID_CLAIM)
    if isinstance(value, str) and _DECIMAL_ID.fullmatch(value):
        value = int(value)
    if type(value) is not int or not 0 < value <= _BIGINT_MAX:
        raise TokenError(_("Token contained no recognizable user identification"))
    return value


class AccessToken(tokens.AccessToken):
    """What the API accepts as a Bearer token (SIMPLE_JWT["AUTH_TOKEN_CLASSES"])."""

    def verify(self) -> None:
        super().verify()
        token_user_id(self.payload)
