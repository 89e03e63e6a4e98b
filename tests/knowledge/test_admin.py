"""The curation console: filters, search, bulk actions, read-only chunks, background re-indexing, retrieval test."""

import pytest
from django.test import Client
from django.urls import reverse

from knowledge.models import Chunk, Document
from knowledge.services.glossary import glossary_seed

pytestmark = pytest.mark.django_db
SRT = (
    "1\n00:00:01,000 --> 00:00:04,000\n말레니아가 웅크리면 물새 난무입니다.\n\n"
    "2\n00:01:02,000 --> 00:01:05,500\n뒤로 달리세요.\n"
)


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def corpus(make_document, league):
    return {
        "malenia": make_document(title="Malenia phase 2", content="말레니아 2페이즈 개화는 달려서 피하세요.",
                                 tags=["malenia", "phase-2"]),
        "radahn": make_document(title="Radahn festival", content="Radahn meteor: ride away.", tags=["radahn"]),
        "build": make_document(title="Bleed build", content="Rivers of Blood.", category="build",
                               status=Document.Status.DRAFT),
        "video": make_document(title="Malenia video", content=SRT, content_format="srt",
                               source_kind="video_subtitles", tags=["malenia"]),
        "faq": make_document(game=league, title="Smite FAQ", content="Keep a Smite.", category="jungle",
                             source_kind="faq"),
    }  # fmt: skip


def _titles(response):
    return sorted(document.title for document in response.context["cl"].result_list)


CHANGELIST = "/admin/knowledge/document/"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Bleed build", "Malenia phase 2", "Malenia video", "Radahn festival", "Smite FAQ"]),
        ("?game__id__exact={league}", ["Smite FAQ"]),
        ("?category=build", ["Bleed build"]),
        ("?tag=malenia", ["Malenia phase 2", "Malenia video"]),
        ("?status__exact=draft", ["Bleed build"]),
        ("?source_kind__exact=video_subtitles", ["Malenia video"]),
        ("?tag=malenia&source_kind__exact=guide", ["Malenia phase 2"]),
        ("?q=meteor", ["Radahn festival"]),
    ],
)
def test_documents_can_be_filtered_and_searched(staff, corpus, league, query, expected):
    response = staff.get(CHANGELIST + query.format(league=league.pk))
    assert response.status_code == 200
    assert _titles(response) == expected


def test_the_list_offers_tag_and_category_choices_and_shows_progress(staff, corpus):
    response = staff.get(CHANGELIST)
    content = response.content.decode()
    assert "?tag=phase-2" in content and "?category=jungle" in content
    assert "ready: 1 chunks" in content
    assert reverse("admin:knowledge_document_retrieval_test") in content


def _action(staff, action, documents):
    return staff.post(CHANGELIST, {"action": action, "_selected_action": [d.pk for d in documents]}, follow=True)


def test_bulk_publish_and_unpublish_switch_retrieval_on_and_off(staff, corpus):
    _action(staff, "unpublish", [corpus["malenia"], corpus["radahn"]])
    assert set(Document.objects.filter(status="draft").values_list("title", flat=True)) == {
        "Malenia phase 2", "Radahn festival", "Bleed build"}  # fmt: skip
    assert not Chunk.objects.filter(document__in=[corpus["malenia"], corpus["radahn"]], searchable=True).exists()
    response = _action(staff, "publish", [corpus["malenia"], corpus["build"]])
    assert "2 documents published." in response.content.decode()
    assert Chunk.objects.filter(document=corpus["build"], searchable=True).count() == 1
    assert Document.objects.get(pk=corpus["build"].pk).updated_by is not None


def test_bulk_reembed_runs_in_the_background_and_keeps_documents_live(staff, corpus, celery_eager,
                                                                      django_capture_on_commit_callbacks):  # fmt: skip
    before = Chunk.objects.get(document=corpus["radahn"]).embedded_at
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(staff, "reembed", [corpus["radahn"]])
    assert "1 document queued for re-embedding." in response.content.decode()
    chunk = Chunk.objects.get(document=corpus["radahn"])
    assert chunk.embedded_at > before and chunk.searchable
    assert Document.objects.get(pk=corpus["radahn"].pk).index_status == "ready"


def test_a_documents_page_shows_its_chunks_read_only(staff, corpus):
    response = staff.get(reverse("admin:knowledge_document_change", args=[corpus["video"].pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "말레니아가 웅크리면 물새 난무입니다. 뒤로 달리세요." in content
    assert "0:00:01–0:01:05" in content
    chunk = Chunk.objects.get(document=corpus["video"])
    assert f">{chunk.token_count}<" in content.replace(" ", "").replace("\n", "") or str(chunk.token_count) in content
    assert 'name="chunks-0-text"' not in content  # nothing editable


def _form_data(response, **changes):
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if name == "tags":
            value = ",".join(value) if isinstance(value, list) else value
        data[name] = "" if value is None else value
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    data.update(changes)
    return data


def test_saving_changed_content_rechunks_in_the_background_and_shows_progress(
    staff, corpus, celery_eager, django_capture_on_commit_callbacks, staff_user
):
    document = corpus["radahn"]
    url = reverse("admin:knowledge_document_change", args=[document.pk])
    page = staff.get(url)
    new_content = "Radahn crashes down as a meteor.\n\nRide away in a straight line, then attack his back."
    # when staff save new content (the queued work held back for a moment)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = staff.post(url, _form_data(page, content=new_content))
    assert response.status_code == 302
    # then the page reports progress while the old chunk still answers
    progress = staff.get(reverse("admin:knowledge_document_progress", args=[document.pk])).json()
    assert progress == {"status": "indexing", "done": 0, "total": 1, "error": "",
                        "text": "indexing: 0 of 1 chunks embedded"}  # fmt: skip
    assert Chunk.objects.get(document=document, searchable=True).text == "Radahn meteor: ride away."
    assert "index-progress" in staff.get(url).content.decode()
    # and when the background work has run, the new chunks are the live ones
    for callback in queued:
        callback()
    assert staff.get(reverse("admin:knowledge_document_progress", args=[document.pk])).json()["status"] == "ready"
    live = Chunk.objects.get(document=document, searchable=True)
    assert live.text == new_content
    document.refresh_from_db()
    assert document.updated_by == staff_user


def test_saving_without_content_changes_does_not_reindex(staff, corpus, django_capture_on_commit_callbacks):
    document = corpus["malenia"]
    url = reverse("admin:knowledge_document_change", args=[document.pk])
    chunk_ids = set(Chunk.objects.filter(document=document).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = staff.post(url, _form_data(staff.get(url), title="Malenia, phase two"))
    assert response.status_code == 302
    assert queued == []  # no indexing queued, no cache eviction
    assert set(Chunk.objects.filter(document=document).values_list("pk", flat=True)) == chunk_ids
    assert Document.objects.get(pk=document.pk).title == "Malenia, phase two"


def test_a_bad_subtitle_text_is_refused_on_the_form(staff, corpus):
    url = reverse("admin:knowledge_document_change", args=[corpus["video"].pk])
    response = staff.post(url, _form_data(staff.get(url), content="no cues at all"))
    assert response.status_code == 200
    assert "no &#x27;start --&gt; end&#x27; timing line" in response.content.decode()


def test_adding_a_document_in_the_admin_indexes_it(staff, elden_ring, celery_eager, django_capture_on_commit_callbacks):
    add = reverse("admin:knowledge_document_add")
    data = {"game": elden_ring.pk, "title": "Mohg guide", "category": "boss", "tags": "mohg", "status": "published",
            "source_kind": "guide", "language": "en", "source_url": "", "content_format": "text",
            "content": "Mohg's Nihil phase: use Purifying Crystal Tear.",
            "chunks-TOTAL_FORMS": "0", "chunks-INITIAL_FORMS": "0"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(add, data)
    assert response.status_code == 302
    document = Document.objects.get(title="Mohg guide")
    assert document.index_status == "ready" and document.tags == ["mohg"]
    assert Chunk.objects.filter(document=document, searchable=True).count() == 1


def test_deleting_in_the_admin_removes_the_document_and_its_chunks(staff, corpus):
    url = reverse("admin:knowledge_document_delete", args=[corpus["faq"].pk])
    response = staff.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Document.objects.filter(pk=corpus["faq"].pk).exists()
    assert not Chunk.objects.filter(document_id=corpus["faq"].pk).exists()


def test_the_retrieval_test_page_shows_top_k_with_distances(staff, corpus):
    url = reverse("admin:knowledge_document_retrieval_test")
    response = staff.get(url, {"question": "말레니아 2페이즈 어떻게 피해요?", "game": "elden-ring", "tags": "malenia",
                               "k": 5})  # fmt: skip
    content = response.content.decode()
    assert response.status_code == 200
    hits = response.context["hits"]
    assert [row["hit"].title for row in hits] == ["Malenia phase 2", "Malenia video"]
    assert hits[0]["hit"].distance <= hits[1]["hit"].distance
    assert f"{hits[0]['hit'].distance:.4f}" in content
    assert "plan: <strong>exact</strong>" in content
    assert "0:00:01" in content  # the video's timestamp


def test_the_retrieval_test_page_validates_its_form(staff, corpus):
    response = staff.get(reverse("admin:knowledge_document_retrieval_test"), {"question": "q", "game": "zelda"})
    assert response.status_code == 200
    assert "searched" not in response.context
    assert set(response.context["form"].errors) == {"game"}
    assert 'class="errorlist' in response.content.decode()


def test_admin_pages_are_for_staff_only(client, corpus):
    response = client.get(reverse("admin:knowledge_document_retrieval_test"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_glossary_and_game_admin_pages_work(staff, corpus, elden_ring):
    glossary_seed(game=elden_ring)
    assert staff.get("/admin/knowledge/glossaryterm/").status_code == 200
    response = staff.post("/admin/knowledge/game/", {"action": "seed_glossary", "_selected_action": [elden_ring.pk]},
                          follow=True)  # fmt: skip
    assert "Elden-ring: 0 new term(s)" in response.content.decode()
