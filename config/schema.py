"""OpenAPI schema: view-named components for nested serializers, and the errors every operation can give."""

from drf_spectacular import openapi

ERROR_COMPONENT = "Error"
_ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API: clients branch on error.code, never on the message.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code."},
                "message": {"type": "string", "description": "For people; may change."},
                "details": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "message", "details"],
        }
    },
    "required": ["error"],
}
_EVERYWHERE = {
    "401": "not_authenticated, authentication_failed, bad_authorization_header, token_not_valid or user_inactive: "
    "the Authorization header is missing, malformed, forged, expired or for a deleted account.",
    "429": "throttled: over a rate limit (Retry-After says when to try again); on /api/coach/ask also "
    "quota_exceeded: the plan's calls for this period are used up.",
    "503": "database_unavailable or another service this request needs is down; try again after Retry-After.",
}
_WITH_INPUT = {
    "400": "validation_error or parse_error: the input named in error.details is invalid.",
}
_WITH_BODY = {
    "413": "request_too_large: the body is over the size limit and was not read.",
    "415": "unsupported_media_type: send application/json.",
}
_WITH_PATH_ID = {"404": "not_found: no such object for this user."}


class AutoSchema(openapi.AutoSchema):
    # The house style nests InputSerializer / OutputSerializer in each view; by class name alone they
    # would all become the components "InputRequest" and "Output" and overwrite one another.
    def get_serializer_name(self, serializer, direction):
        outer, _, name = type(serializer).__qualname__.rpartition(".")
        if outer and "<locals>" not in outer:
            return outer.rpartition(".")[2].removesuffix("Api") + name
        return super().get_serializer_name(serializer, direction)


def document_common_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the errors the shared middleware and DRF give to every operation.

    Authentication, rate limits, the body-size limit, validation and an unreachable database answer the
    same way on every endpoint; each view documents only its own codes. What a view documents wins.
    """
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(ERROR_COMPONENT, _ERROR_SCHEMA)
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = dict(_EVERYWHERE)
            if operation.get("parameters") or operation.get("requestBody"):
                codes.update(_WITH_INPUT)
            if method in ("post", "put", "patch"):
                codes.update(_WITH_BODY)
                codes.update(_WITH_INPUT)
            if "{" in path:
                codes.update(_WITH_PATH_ID)
            for status, description in codes.items():
                operation["responses"].setdefault(status, {"description": description, "content": content})
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "content" not in response:  # documented, shape left out
                    response["content"] = content
    return result
