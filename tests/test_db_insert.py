"""config.db.insert.instances_insert: new rows in one statement, written as save() would write them."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coach.models import Conversation, QuestionLog
from config.db.insert import instances_insert
from knowledge.models import Game
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)  # committed: the log's foreign key to the new conversation is checked
def test_a_conversation_and_its_log_are_one_statement_and_read_back_as_saved():
    user = UserFactory()
    conversation = Conversation(user=user, game="elden-ring")
    log = QuestionLog(
        user=user, conversation=conversation, game="elden-ring", tags=["boss"], question="말레니아 2페이즈?",
        answer="물 새 춤을 피하세요.", sources=[{"document_id": 1, "title": "가이드"}], model="gpt-4o-mini",
        prompt_tokens=120, cost_usd=Decimal("0.00012345"), stage_ms={"llm": 1.5},
    )  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        instances_insert(conversation, log)

    assert len(queries) == 1
    assert not log._state.adding and log.created_at is not None  # auto_now_add, as save() sets it
    stored = QuestionLog.objects.select_related("conversation").get(pk=log.pk)
    assert stored.conversation == conversation and stored.conversation.user == user
    assert stored.conversation.created_at == conversation.created_at
    assert (stored.tags, stored.sources, stored.stage_ms) == (
        ["boss"],
        [{"document_id": 1, "title": "가이드"}],
        {"llm": 1.5},
    )
    assert (stored.question, stored.answer, stored.prompt_tokens) == ("말레니아 2페이즈?", "물 새 춤을 피하세요.", 120)
    assert stored.cost_usd == Decimal("0.00012345") and stored.cache == QuestionLog.Cache.NONE  # the field's default


@pytest.mark.django_db
def test_one_instance_is_a_plain_insert(user):
    log = QuestionLog(user=user, game="lol", question="best jungle path?")
    instances_insert(log)
    assert QuestionLog.objects.get(pk=log.pk).conversation is None


@pytest.mark.django_db
def test_a_model_whose_key_the_database_makes_is_refused():
    with pytest.raises(ValueError, match="primary key set in Python"):
        instances_insert(Game(slug="tft", name_ko="TFT", name_en="TFT"))
    assert not Game.objects.filter(slug="tft").exists()
