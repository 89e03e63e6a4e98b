"""The /auth endpoints: Google sign-in, token refresh and logout, and the player's own account (/auth/me)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import User
from .selectors import user_me
from .services import google_sign_in, session_refresh, session_revoke, user_delete, user_update

GAME_SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_FAVOURITE_GAMES = 20


class AuthErrorDetailOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: branch on this, never on the message.")
    message = serializers.CharField()
    details = serializers.DictField()


class AuthErrorOutput(serializers.Serializer):
    error = AuthErrorDetailOutput()


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=AuthErrorOutput, description=description)


class AuthUserOutput(serializers.Serializer):
    public_id = serializers.UUIDField(help_text="Stable id of the account; pass it to RevenueCat as app_user_id.")
    email = serializers.EmailField()
    display_name = serializers.CharField()
    language = serializers.ChoiceField(choices=User.Language.choices)
    favourite_games = serializers.ListField(child=serializers.CharField(), help_text="Game slugs.")
    date_joined = serializers.DateTimeField()


class AuthUsageOutput(serializers.Serializer):
    period = serializers.ChoiceField(choices=["week", "month"])
    period_start = serializers.DateField()
    used = serializers.IntegerField(help_text="Coach calls used this period.")
    remaining = serializers.IntegerField(help_text="Coach calls left this period.")
    limit = serializers.IntegerField()
    resets_at = serializers.DateTimeField()


class AuthSubscriptionOutput(serializers.Serializer):
    store = serializers.CharField(help_text="app_store, play_store, promotional ...")
    product_id = serializers.CharField(required=False)
    expires_at = serializers.DateTimeField(allow_null=True)
    will_renew = serializers.BooleanField(required=False)
    billing_issue = serializers.BooleanField(required=False)


class AuthMeOutput(serializers.Serializer):
    public_id = serializers.UUIDField(source="user.public_id", help_text="RevenueCat app_user_id.")
    email = serializers.EmailField(source="user.email")
    display_name = serializers.CharField(source="user.display_name")
    language = serializers.ChoiceField(source="user.language", choices=User.Language.choices)
    favourite_games = serializers.ListField(source="user.favourite_games", child=serializers.CharField())
    date_joined = serializers.DateTimeField(source="user.date_joined")
    plan = serializers.CharField(help_text='"free" until a subscription is active.')
    usage = AuthUsageOutput()
    subscription = AuthSubscriptionOutput(allow_null=True, help_text="Null on the free plan.")


class AuthTokenPairOutput(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(help_text="Single use: POST it to /auth/token/refresh for a new pair.")


class AuthSignInOutput(serializers.Serializer):
    access = serializers.CharField(source="tokens.access")
    refresh = serializers.CharField(source="tokens.refresh")
    user = AuthUserOutput()
    is_new_user = serializers.BooleanField(source="created", help_text="True on the account's first sign-in.")


class AuthGoogleSignInInput(serializers.Serializer):
    id_token = serializers.CharField(max_length=8192, help_text="The ID token Google Sign-In gave the app.")


class AuthRefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class AuthMeUpdateInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=80, allow_blank=True, required=False)
    language = serializers.ChoiceField(choices=User.Language.choices, required=False)
    favourite_games = serializers.ListField(
        child=serializers.RegexField(GAME_SLUG_PATTERN, max_length=50),
        max_length=MAX_FAVOURITE_GAMES,
        required=False,
        help_text="Game slugs, in the player's order; replaces the whole list.",
    )


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


_GOOGLE_401 = (
    "The Google ID token was refused: google_token_malformed, google_token_unsupported_algorithm "
    "(alg none, HS256...), google_token_unknown_key, google_token_bad_signature, google_token_expired, "
    "google_token_not_yet_valid, google_token_wrong_audience, google_token_wrong_issuer, google_email_unverified."
)
_SESSION_401 = "token_not_valid (malformed, expired, already used or revoked) or account_disabled."


class GoogleSignInApi(APIView):
    authentication_classes = ()  # a stale Bearer header must not block signing in again
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="auth_google_sign_in",
        tags=["auth"],
        summary="Sign in with a Google ID token",
        description="Creates the account on the first sign-in (on the free plan) and returns our own JWTs.",
        request=AuthGoogleSignInInput,
        responses={
            200: AuthSignInOutput,
            400: _error("validation_error: id_token missing or too long."),
            401: _error(_GOOGLE_401),
            403: _error("account_disabled: the account was deactivated by staff."),
            503: _error("google_keys_unavailable (retry later) or google_sign_in_not_configured."),
        },
        auth=[],
    )
    def post(self, request):
        data = _valid(AuthGoogleSignInInput, request.data)
        sign_in = google_sign_in(id_token=data["id_token"], request=request._request)
        return Response(AuthSignInOutput(sign_in).data)


class TokenRefreshApi(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="auth_token_refresh",
        tags=["auth"],
        summary="Exchange a refresh token for a new access and refresh token",
        description="The refresh token sent is revoked: each refresh token works once.",
        request=AuthRefreshInput,
        responses={200: AuthTokenPairOutput, 400: _error("validation_error"), 401: _error(_SESSION_401)},
        auth=[],
    )
    def post(self, request):
        data = _valid(AuthRefreshInput, request.data)
        return Response(AuthTokenPairOutput(session_refresh(refresh=data["refresh"])).data)


class LogoutApi(APIView):
    authentication_classes = ()  # the refresh token is the credential; the access token may have expired
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="auth_logout",
        tags=["auth"],
        summary="Log out: revoke a refresh token",
        description="Idempotent. The access token stays valid until it expires (minutes); drop it too.",
        request=AuthRefreshInput,
        responses={204: None, 400: _error("validation_error"), 401: _error("token_not_valid: not one of ours.")},
        auth=[],
    )
    def post(self, request):
        data = _valid(AuthRefreshInput, request.data)
        session_revoke(refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(
        operation_id="auth_me_get",
        tags=["auth"],
        summary="The signed-in player: profile, plan and this period's usage",
        responses={200: AuthMeOutput, 401: _error("not_authenticated or authentication_failed")},
    )
    def get(self, request):
        return Response(AuthMeOutput(user_me(user=request.user)).data)

    @extend_schema(
        operation_id="auth_me_update",
        tags=["auth"],
        summary="Change display name, language or favourite games",
        request=AuthMeUpdateInput,
        responses={
            200: AuthMeOutput,
            400: _error("validation_error, or unknown_game (details.unknown lists the slugs)"),
            401: _error("not_authenticated or authentication_failed"),
        },
    )
    def patch(self, request):
        data = _valid(AuthMeUpdateInput, request.data)
        user = user_update(user=request.user, **data)
        return Response(AuthMeOutput(user_me(user=user)).data)

    @extend_schema(
        operation_id="auth_me_delete",
        tags=["auth"],
        summary="Delete the account",
        description=(
            "Personal data is erased and every token stops working at once. Store subscriptions are "
            "managed by the App Store / Google Play and must be cancelled there."
        ),
        responses={204: None, 401: _error("not_authenticated or authentication_failed")},
    )
    def delete(self, request):
        user_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
