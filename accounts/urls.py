"""Sign-in and the player's account, mounted at /auth/."""

from django.urls import path

from . import apis

urlpatterns = [
    path("google", apis.GoogleSignInApi.as_view(), name="auth-google"),
    path("token/refresh", apis.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("me", apis.MeApi.as_view(), name="auth-me"),
]
