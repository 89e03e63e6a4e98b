"""Cached answers built on a document go when it changes, is unpublished or deleted (coach's semantic cache)."""

import pytest
from asgiref.sync import async_to_sync

from ai.embeddings import get_embedder
from coach.services.cache import asemantic_cache_lookup, asemantic_cache_store
from knowledge.services.documents import document_delete, document_ingest, document_unpublish, document_update

pytestmark = pytest.mark.django_db
QUESTION = "말레니아 2페이즈 어떻게 피해요?"


@pytest.fixture
def cached_answer(make_document):
    """A live document and a cached answer built on it; returns (document, is_still_cached)."""
    document = make_document(
        title="Malenia", content="말레니아 2페이즈: 개화는 반대로 달려서 피하세요.", tags=["malenia"]
    )
    embedder = get_embedder()
    embedding = embedder.embed([QUESTION])[0]
    entry = async_to_sync(asemantic_cache_store)(game="elden-ring", question=QUESTION, embedding=embedding,
                                                 model_name=embedder.model_name, payload={"answer": "Run."},
                                                 document_ids=[document.pk])  # fmt: skip
    assert entry is not None

    def is_still_cached() -> bool:
        hit = async_to_sync(asemantic_cache_lookup)(game="elden-ring", question=QUESTION, embedding=embedding,
                                                    model_name=embedder.model_name)  # fmt: skip
        return hit is not None

    assert is_still_cached()
    return document, is_still_cached


def test_editing_the_content_evicts_answers_built_on_it(cached_answer, django_capture_on_commit_callbacks):
    document, is_still_cached = cached_answer
    with django_capture_on_commit_callbacks(execute=True):
        document_update(document=document, data={"content": "말레니아 2페이즈: 새 공략."}, sync=True)
    assert not is_still_cached()


def test_unpublishing_evicts(cached_answer, django_capture_on_commit_callbacks):
    document, is_still_cached = cached_answer
    with django_capture_on_commit_callbacks(execute=True):
        document_unpublish(document=document)
    assert not is_still_cached()


def test_deleting_evicts(cached_answer, django_capture_on_commit_callbacks):
    document, is_still_cached = cached_answer
    with django_capture_on_commit_callbacks(execute=True):
        document_delete(document=document)
    assert not is_still_cached()


def test_changing_its_tags_evicts(cached_answer, django_capture_on_commit_callbacks):
    document, is_still_cached = cached_answer
    with django_capture_on_commit_callbacks(execute=True):
        document_update(document=document, data={"tags": ["radahn"]})
    assert not is_still_cached()


def test_a_title_only_edit_or_an_unchanged_reingest_keeps_the_cache(cached_answer, django_capture_on_commit_callbacks):
    document, is_still_cached = cached_answer
    with django_capture_on_commit_callbacks(execute=True):
        document_update(document=document, data={"title": "Malenia, phase 2"})
        document_ingest(game=document.game, source_key="", title="x", content="y", category="boss",
                                 dry_run=True)  # fmt: skip
    assert is_still_cached()


def test_eviction_is_not_run_inside_the_transaction(cached_answer, django_capture_on_commit_callbacks):
    # an answer cached between an eviction and the commit would outlive the change: evict after commit
    document, is_still_cached = cached_answer
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document_unpublish(document=document)
    assert is_still_cached()
    for callback in callbacks:
        callback()
    assert not is_still_cached()
