"""The admin's upload: files or a zip with a manifest become a batch, ingested in Celery with per-file errors."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from knowledge.models import Chunk, Document, UploadBatch, UploadFile

pytestmark = pytest.mark.django_db
UPLOAD = "/admin/knowledge/uploadbatch/add/"
SRT = "1\n00:00:01,000 --> 00:00:04,000\n쓰레쉬 Q 적중 후 플래시로 붙으세요.\n"


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def _file(name: str, content: str | bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)


def _zip(members: dict[str, str | bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return SimpleUploadedFile("guides.zip", buffer.getvalue(), content_type="application/zip")


def _upload(staff, capture, files, **fields):
    """POST the form; its Celery task (and the embedding tasks it queues) run when the request commits."""
    with capture(execute=True):
        response = staff.post(UPLOAD, {"files": files, "document_status": "published", **fields})
    return response


def _files(batch) -> dict[str, UploadFile]:
    return {f.name: f for f in batch.files.all()}


def test_several_files_land_in_the_game_with_their_own_titles_and_get_embedded(
    staff, elden_ring, celery_eager, django_capture_on_commit_callbacks
):
    # given three guides in three formats
    files = [
        _file("malenia-phase-2.md", "# 말레니아 2페이즈 공략\n\n개화는 달려서 피하세요."),
        _file("radahn.html", "<html><head><title>Radahn festival</title></head><body><p>Ride away.</p></body></html>"),
        _file("malenia-video.srt", SRT),
    ]
    # when staff upload them for Elden Ring, category boss, tag malenia
    response = _upload(staff, django_capture_on_commit_callbacks, files, game="elden-ring", category="boss",
                       tags="malenia, phase-2")  # fmt: skip
    # then the batch page opens and every file is ingested into searchable documents
    batch = UploadBatch.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/uploadbatch/{batch.pk}/change/")
    batch.refresh_from_db()
    assert batch.state == "done"
    assert {name: (f.status, f.outcome, f.error) for name, f in _files(batch).items()} == {
        "malenia-phase-2.md": ("done", "1 new", ""),
        "radahn.html": ("done", "1 new", ""),
        "malenia-video.srt": ("done", "1 new", ""),
    }
    documents = Document.objects.order_by("title")
    titles = {d.source_key: d.title for d in documents}
    assert titles["file:malenia-phase-2.md"] == "말레니아 2페이즈 공략"
    assert titles["file:radahn.html"] == "Radahn festival"
    assert titles["file:malenia-video.srt"].startswith("쓰레쉬 Q 적중")  # its first caption, not its file name
    assert {(d.game.slug, d.category, tuple(d.tags), d.status, d.index_status) for d in documents} == {
        ("elden-ring", "boss", ("malenia", "phase-2"), "published", "ready")
    }
    assert Chunk.objects.filter(searchable=True).count() == 3
    page = staff.get(response["Location"]).content.decode()
    assert "말레니아 2페이즈 공략" in page and "3 of 3 ingested" in page and "Finished." in page


def test_uploading_the_same_files_again_changes_nothing(staff, elden_ring, celery_eager,
                                                        django_capture_on_commit_callbacks):  # fmt: skip
    guide = "# Bleed build\n\nRivers of Blood."
    _upload(staff, django_capture_on_commit_callbacks, [_file("bleed.md", guide)], game="elden-ring", category="build")
    _upload(staff, django_capture_on_commit_callbacks, [_file("bleed.md", guide)], game="elden-ring", category="build")
    assert Document.objects.count() == 1
    assert [f.outcome for f in UploadFile.objects.order_by("pk")] == ["1 new", "1 unchanged"]


def test_bad_files_each_get_their_own_error_and_the_good_ones_go_in(
    staff, elden_ring, celery_eager, django_capture_on_commit_callbacks
):
    files = [
        _file("good.md", "# Good guide\n\nRoll towards the boss."),
        _file("notes.pdf", b"%PDF-1.7 ..."),
        _file("latin1.txt", "Malenia est très rapide".encode("latin-1")),
        _file("broken.srt", "1\nnot a timestamp\nhello\n"),
        _file("faq.jsonl", '{"title": "Q1", "content": "A1"}\n{"title": "Q2"}\n'),
    ]
    _upload(staff, django_capture_on_commit_callbacks, files, game="elden-ring", category="boss")
    uploaded = _files(UploadBatch.objects.get())
    assert uploaded["good.md"].status == "done"
    assert uploaded["notes.pdf"].status == "failed" and "unsupported file type '.pdf'" in uploaded["notes.pdf"].error
    assert uploaded["latin1.txt"].status == "failed" and "not UTF-8" in uploaded["latin1.txt"].error
    assert uploaded["broken.srt"].status == "failed" and uploaded["broken.srt"].error
    # the jsonl's good line is not ingested without the bad one: nothing half-ingested
    assert uploaded["faq.jsonl"].status == "failed" and "faq.jsonl:2: missing 'content'" in uploaded["faq.jsonl"].error
    assert list(Document.objects.values_list("title", flat=True)) == ["Good guide"]
    assert not uploaded["notes.pdf"].data  # a refused file is not stored


def test_a_zip_with_a_manifest_puts_each_file_in_its_game(
    staff, elden_ring, league, celery_eager, django_capture_on_commit_callbacks
):
    manifest = {
        "files": {
            "er/malenia.md": {"game": "elden-ring", "category": "boss", "tags": ["malenia"], "language": "ko"},
            "lol/thresh.srt": {"game": "league-of-legends", "category": "support", "title": "쓰레쉬 서폿 콤보",
                               "source_url": "https://youtu.be/thresh"},
            "lol/missing.md": {"game": "league-of-legends", "category": "jungle"},
        }
    }  # fmt: skip
    archive = _zip({
        "manifest.json": json.dumps(manifest),
        "er/malenia.md": "# 말레니아\n\n물새 난무는 뒤로 달리세요.",
        "lol/thresh.srt": SRT,
        "__MACOSX/._thresh.srt": b"\x00\x05\x16\x07",
    })  # fmt: skip
    _upload(staff, django_capture_on_commit_callbacks, [archive])
    batch = UploadBatch.objects.get()
    uploaded = _files(batch)
    assert set(uploaded) == {"er/malenia.md", "lol/thresh.srt", "lol/missing.md"}
    assert uploaded["lol/missing.md"].error == "listed in the manifest but not in the zip"
    assert batch.archive_name == "guides.zip"
    documents = {d.title: d for d in Document.objects.select_related("game")}
    assert set(documents) == {"말레니아", "쓰레쉬 서폿 콤보"}
    thresh = documents["쓰레쉬 서폿 콤보"]
    assert (thresh.game.slug, thresh.category, thresh.source_kind, thresh.source_url) == (
        "league-of-legends", "support", "video_subtitles", "https://youtu.be/thresh"
    )  # fmt: skip
    assert (documents["말레니아"].game.slug, documents["말레니아"].tags) == ("elden-ring", ["malenia"])
    assert thresh.source_key == "file:lol/thresh.srt"


def test_a_manifest_naming_an_unknown_game_fails_that_file(staff, elden_ring, celery_eager,
                                                           django_capture_on_commit_callbacks):  # fmt: skip
    archive = _zip({
        "manifest.yaml": "files:\n  a.md: {game: hollow-knight, category: boss}\n",
        "a.md": "# Hornet\n\nDash.",
    })  # fmt: skip
    _upload(staff, django_capture_on_commit_callbacks, [archive])
    upload = UploadFile.objects.get()
    assert upload.status == "failed" and "unknown game 'hollow-knight' (known: elden-ring)" in upload.error
    assert not Document.objects.exists()


def test_unsafe_and_oversized_zip_members_are_refused_without_reading_them_whole(
    staff, elden_ring, settings, celery_eager, django_capture_on_commit_callbacks
):
    settings.UPLOAD_MAX_FILE_BYTES = 10_000
    archive = _zip({
        "../escape.md": "# Escape\n\nout",
        "/etc/absolute.md": "# Absolute",
        "bomb.md": "a" * 5_000_000,  # 5 MB of one letter: a few KB zipped
        "ok.md": "# Fine\n\nText.",
        "nested.zip": b"PK\x03\x04",
    })  # fmt: skip
    assert archive.size < 50_000
    _upload(staff, django_capture_on_commit_callbacks, [archive], game="elden-ring", category="boss")
    uploaded = _files(UploadBatch.objects.get())
    assert "'..' leads outside it" in uploaded["../escape.md"].error
    assert "unsafe path" in uploaded["/etc/absolute.md"].error
    assert "too large" in uploaded["bomb.md"].error and not uploaded["bomb.md"].data
    assert "unsupported file type '.zip'" in uploaded["nested.zip"].error
    assert uploaded["ok.md"].status == "done"
    assert list(Document.objects.values_list("title", flat=True)) == ["Fine"]


def test_a_zip_whose_files_unpack_past_the_total_limit_stops_there(
    staff, elden_ring, settings, celery_eager, django_capture_on_commit_callbacks
):
    settings.UPLOAD_MAX_UNPACKED_BYTES = 25_000
    archive = _zip({f"part{i}.md": f"# Part {i}\n\n" + "b" * 9_000 for i in range(4)})
    _upload(staff, django_capture_on_commit_callbacks, [archive], game="elden-ring", category="boss")
    statuses = [(f.name, f.status) for f in UploadFile.objects.order_by("name")]
    assert statuses == [("part0.md", "done"), ("part1.md", "done"), ("part2.md", "failed"), ("part3.md", "failed")]
    assert "unpacks to more than" in UploadFile.objects.get(name="part3.md").error


@pytest.mark.parametrize(
    ("files", "fields", "message"),
    [
        (lambda: [_file("a.md", "# A")], {}, "Choose a game and a category for a.md"),
        (lambda: [SimpleUploadedFile("x.zip", b"not a zip")], {"game": "elden-ring", "category": "boss"},
         "x.zip: not a readable zip file"),
        (lambda: [_zip({"manifest.yaml": "a.md: [unclosed", "a.md": "# A"})], {}, "manifest.yaml: malformed YAML"),
        (lambda: [_zip({"manifest.json": '{"files": {"a.md": {"game": "elden-ring", "colour": "red"}}}',
                        "a.md": "# A"})], {}, "unknown field(s) colour"),
    ],
)  # fmt: skip
def test_an_upload_that_cannot_be_placed_is_refused_on_the_form_and_nothing_is_stored(
    staff, elden_ring, files, fields, message
):
    response = staff.post(UPLOAD, {"files": files(), "document_status": "published", **fields})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not UploadBatch.objects.exists()


def test_uploading_needs_the_document_permissions(client, elden_ring):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["add_uploadbatch", "view_uploadbatch"]))
    client.force_login(clerk)
    response = client.post(UPLOAD, {"files": [_file("a.md", "# A")], "game": "elden-ring", "category": "boss"})
    assert response.status_code == 403
    assert not UploadBatch.objects.exists()


def test_running_the_task_twice_ingests_each_file_once(staff, elden_ring, django_capture_on_commit_callbacks):
    from knowledge.uploads import upload_batch_ingest

    with django_capture_on_commit_callbacks(execute=False):  # the queued task is not run here
        staff.post(UPLOAD, {"files": [_file("a.md", "# A\n\ntext")], "game": "elden-ring", "category": "boss",
                            "document_status": "draft"})  # fmt: skip
    batch = UploadBatch.objects.get()
    assert batch.state == "queued" and UploadFile.objects.get().status == "queued"
    upload_batch_ingest(batch_id=batch.pk)
    upload_batch_ingest(batch_id=batch.pk)
    assert UploadFile.objects.get().outcome == "1 new"
    assert Document.objects.get().status == "draft"
