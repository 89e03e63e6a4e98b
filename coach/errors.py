"""The coach's own error: a question too long for the plan (the LLM failing is ai.errors)."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


class PromptTooLong(ApplicationError):
    status = 400
    code = "question_too_long"
    message = _("The question is too long for your plan; please shorten it.")
