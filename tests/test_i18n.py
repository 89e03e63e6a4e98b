"""The Korean catalogue keeps up with the code: every translatable string has a Korean translation.

The makemessages check runs Django's makemessages (GNU xgettext) into a temporary locale directory
and compares what it extracts with locale/ko/LC_MESSAGES/django.po, so a string added without a
translation fails here (and in CI) rather than showing up in English on a Korean console.
"""

import os
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.core.management import call_command
from django.utils import translation

from config import i18n
from config.catalogue import catalogues_compile

ROOT = Path(__file__).resolve().parents[1]
KOREAN = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
SOURCES = ("accounts", "billing", "coach", "config", "knowledge", "templates")  # what the console and the API say
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")


def _key(entry: polib.POEntry) -> tuple:
    return entry.msgctxt, entry.msgid, entry.msgid_plural


def _translated(entry: polib.POEntry) -> bool:
    if entry.obsolete or "fuzzy" in entry.flags:
        return False
    if entry.msgid_plural:
        return bool(entry.msgstr_plural) and all(entry.msgstr_plural.values())
    return bool(entry.msgstr)


def _extract(tmp_path, settings, monkeypatch) -> polib.POFile:
    """What makemessages finds in the code and templates today, as a fresh catalogue in tmp_path."""
    if not shutil.which("xgettext"):
        if os.environ.get("CI"):
            pytest.fail("the makemessages check must run in CI: GNU gettext (xgettext) is not installed")
        pytest.skip("GNU gettext (xgettext) is not installed; bin/test installs it when run as root")
    # A copy of our code without locale/: makemessages writes beside any locale/ directory it walks past.
    source = tmp_path / "source"
    for name in SOURCES:
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(source)
    call_command("makemessages", locale=["ko"], no_location=True, verbosity=0)
    return polib.pofile(str(tmp_path / "locale" / "ko" / "LC_MESSAGES" / "django.po"))


def test_every_translatable_string_in_the_code_has_a_korean_translation(tmp_path, settings, monkeypatch):
    extracted = _extract(tmp_path, settings, monkeypatch)
    korean = {_key(entry): entry for entry in polib.pofile(str(KOREAN))}

    missing = [entry.msgid for entry in extracted if not _translated(korean.get(_key(entry), polib.POEntry()))]

    assert len(extracted) > 300  # the extraction saw our code (admin, errors, templates, model labels)
    assert missing == [], (
        f"{len(missing)} string(s) have no Korean translation in {KOREAN.relative_to(ROOT)}: run "
        "`python manage.py makemessages -l ko --no-location` (README) and translate them"
    )


def test_every_model_label_is_listed_for_makemessages():
    # Django derives these from attribute names; config/i18n.MODEL_LABELS is how makemessages sees them.
    unlisted = i18n.model_labels() - set(i18n.MODEL_LABELS)
    assert unlisted == set(), f"add to config/i18n.MODEL_LABELS (and translate): {sorted(unlisted)}"


def test_translations_keep_the_placeholders_of_their_english():
    wrong = []
    for entry in polib.pofile(str(KOREAN)):
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            if text and sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(entry.msgid)):
                wrong.append((entry.msgid, text))
    assert wrong == []


def test_the_catalogue_compiles_and_a_korean_staff_member_reads_korean(tmp_path):
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    (mo,) = catalogues_compile(tmp_path / "locale", force=True)
    assert polib.mofile(str(mo)).find("Dashboard").msgstr == "대시보드"
    with translation.override("ko"):
        assert translation.gettext("Operations dashboard") == "운영 대시보드"
    with translation.override("en"):
        assert translation.gettext("Operations dashboard") == "Operations dashboard"
