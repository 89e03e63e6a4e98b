"""A test-only URLconf: stand-in coach question endpoints (sync and async) behind QuotaMiddleware."""

from django.http import JsonResponse
from django.urls import include, path

from billing.services import aquota_release, quota_release

calls = {"count": 0}


def ask(request):
    calls["count"] += 1
    reservation = getattr(request, "quota_reservation", None)  # None: not a counted request (GET)
    return JsonResponse({"answer": "Dodge to the left.", "plan": reservation.plan if reservation else None})


async def ask_async(request):
    calls["count"] += 1
    if request.GET.get("cached"):
        await aquota_release(reservation=request.quota_reservation)
    return JsonResponse({"answer": "Dodge to the left."})


def ask_cached(request):
    calls["count"] += 1
    quota_release(reservation=request.quota_reservation)  # answered from the exact cache: costs nothing
    return JsonResponse({"answer": "Dodge to the left.", "cached": True})


def ask_fails(request):
    calls["count"] += 1
    return JsonResponse({"error": {"code": "llm_unavailable", "message": "down", "details": {}}}, status=503)


def ask_crashes(request):
    calls["count"] += 1
    raise RuntimeError("the model provider blew up")


urlpatterns = [
    path("api/coach/ask", ask),
    path("api/coach/ask-async", ask_async),
    path("api/coach/ask-cached", ask_cached),
    path("api/coach/ask-fails", ask_fails),
    path("api/coach/ask-crashes", ask_crashes),
    path("billing/", include("billing.urls")),
]
