"""The language model failing, as the client sees it (503; 504 on a timeout): coach's answers and
knowledge's summaries raise these once the retries are spent."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


class AIError(ApplicationError):
    """The language model could not answer after our retries; the client may try again shortly."""

    status = 503
    code = "ai_unavailable"
    message = _("The coach cannot answer right now; please try again shortly.")


class AITimeout(AIError):
    status = 504
    code = "ai_timeout"
    message = _("The coach took too long to answer; please try again.")


class AIQuotaExhausted(AIError):
    # Our provider account is out of credit: retrying cannot help until someone tops it up.
    code = "ai_quota_exhausted"
    message = _("The coach is temporarily unavailable; please try again later.")


class AIModelUnavailable(AIError):
    code = "ai_model_unavailable"
    message = _("The coach's model is unavailable right now; please try again later.")


class AIBadResponse(AIError):
    code = "ai_bad_response"
    message = _("The coach gave an unreadable answer; please try again.")


class AIStreamInterrupted(AIError):
    code = "ai_stream_interrupted"
    message = _("The answer was interrupted; please ask again.")
