"""A uvicorn worker loads its views and tokenizers before it serves, not on its first requests' event loop."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_worker_loads_the_views_and_the_tokenizers_when_it_starts():
    # given a fresh interpreter, as a uvicorn worker starts: it imports config.asgi
    code = (
        "import sys, config.asgi\n"
        "from ai.tokens import _encoding\n"
        "print('coach.apis' in sys.modules, 'openai' in sys.modules, _encoding.cache_info().currsize)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    # then before any request the URLconf's views (and the OpenAI SDK they use) are imported, and the
    # tokenizers of the plans' models (o200k_base) and of the embedding model (cl100k_base) are loaded
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "2"]
