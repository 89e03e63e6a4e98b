"""The coach in the admin (the operations console): question logs with the dashboard and content gaps
pages, and the down-vote queue. Importing the modules registers their ModelAdmins."""

from . import feedback, question_logs  # noqa: F401
