"""Builds the translation catalogues (locale/<lang>/LC_MESSAGES/django.mo) from their .po files, in pure Python.

bin/_bootstrap (so bin/run and bin/test) and the test suite run this, so neither a fresh machine
nor CI needs GNU gettext; the Docker image compiles with Django's compilemessages (msgfmt) instead.
The .mo files are build output and not committed. polib is a development dependency: imported here only.

    python -m config.catalogue          # compile the .po files whose .mo is missing or older
"""

from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def catalogues_compile(locale_dir: Path = LOCALE_DIR, *, force: bool = False) -> list[Path]:
    """Each django.po under locale_dir to its .mo, when the .mo is missing or older; the .mo files written."""
    import polib

    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/django.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalogue = polib.pofile(str(po_path))
        # Written beside and renamed: a server reading the old .mo never sees half a file.
        partial = mo_path.with_suffix(".mo.partial")
        catalogue.save_as_mofile(str(partial))
        partial.replace(mo_path)
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in catalogues_compile():
        print(f"[bootstrap] compiled {path.relative_to(LOCALE_DIR.parent)}")
