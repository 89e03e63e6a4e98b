"""Local development: the embedded servers, DEBUG on, the offline providers unless a key is set."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
