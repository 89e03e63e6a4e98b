"""The one error shape, from DRF errors, domain errors, unknown routes and unexpected exceptions."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import path
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from config.errors import ApplicationError


class _Input(serializers.Serializer):
    name = serializers.CharField(max_length=5)


@api_view(["POST"])
@permission_classes([AllowAny])
def _validate(request):
    _Input(data=request.data).is_valid(raise_exception=True)
    return None


@api_view(["GET"])
@permission_classes([AllowAny])
def _domain(request):
    raise ApplicationError("Slow down.", code="too_fast", status=429, details={"wait": 3}, headers={"Retry-After": "3"})


@api_view(["GET"])
@permission_classes([AllowAny])
def _django_validation(request):
    raise ValidationError({"field": ["bad"]})


@api_view(["GET"])
@permission_classes([AllowAny])
def _crash(request):
    raise RuntimeError("boom with a secret sk-test-123")


@api_view(["GET"])
def _private(request):
    return None


urlpatterns = [
    path("api/t/validate", _validate),
    path("api/t/domain", _domain),
    path("api/t/django-validation", _django_validation),
    path("api/t/crash", _crash),
    path("api/t/private", _private),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def test_validation_errors_name_the_fields(api_client):
    response = api_client.post("/api/t/validate", {"name": "too long"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "name" in error["details"]["fields"]


def test_malformed_json_is_a_400_parse_error(api_client):
    response = api_client.post("/api/t/validate", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_domain_errors_keep_their_status_code_details_and_headers(api_client):
    response = api_client.get("/api/t/domain")
    assert response.status_code == 429
    assert response.json() == {"error": {"code": "too_fast", "message": "Slow down.", "details": {"wait": 3}}}
    assert response["Retry-After"] == "3"


def test_django_validation_errors_become_400(api_client):
    response = api_client.get("/api/t/django-validation")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"field": ["bad"]}


def test_missing_token_is_401_not_authenticated(api_client):
    response = api_client.get("/api/t/private")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_garbage_token_is_401_with_simplejwt_code(api_client):
    response = api_client.get("/api/t/private", HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_unexpected_exception_is_a_json_500_without_its_message(api_client):
    api_client.raise_request_exception = False
    response = api_client.get("/api/t/crash")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert b"sk-test" not in response.content


def test_wrong_method_is_405_in_the_error_shape(api_client):
    response = api_client.get("/api/t/validate")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
