"""Glossaries: entity names seeded from published documents, curated by staff, read by the cache guard."""

import io

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Document, GlossaryTerm
from knowledge.selectors import glossary_terms
from knowledge.services.glossary import glossary_candidates, glossary_seed

pytestmark = pytest.mark.django_db


def test_korean_english_pairs_give_both_names_even_once():
    found = glossary_candidates(
        ["보스는 말레니아(Malenia)입니다. 떨어지는 개화(Scarlet Aeonia)를 피하세요."], min_occurrences=2
    )
    assert {"말레니아", "Malenia", "개화", "Scarlet Aeonia"} <= set(found)


def test_recurring_capitalised_english_names_count_but_sentence_starts_do_not():
    texts = ["Use frost on Rykard. Keep away from Rykard when Lord Rykard screams.",
             "Use the Serpent Hunter against Lord Rykard. Keep moving."]  # fmt: skip
    found = glossary_candidates(texts, min_occurrences=2)
    assert found["Rykard"] == 2 and found["Lord Rykard"] == 2
    assert "Use" not in found and "Keep" not in found
    assert "Serpent Hunter" not in found  # once only


def test_korean_words_must_recur_across_documents_and_not_be_common_or_verbs():
    texts = [
        "라다곤의 공격 패턴을 피하세요. 라다곤은 빠릅니다.",
        "라다곤을 잡으면 엘든 짐승이 나옵니다. 짐승은 느립니다. 짐승",
    ]
    found = glossary_candidates(texts, min_occurrences=2)
    assert found["라다곤"] == 3
    assert "짐승" not in found  # three times, but in one document only
    assert not {"공격", "패턴", "피하세요", "빠릅니다"} & set(found)


def test_seeding_is_idempotent_and_respects_staff_curation(make_document, elden_ring):
    make_document(content="말레니아(Malenia)의 물새 난무(Waterfowl Dance)를 조심하세요.")
    make_document(title="draft", content="미케라(Miquella)", status=Document.Status.DRAFT)
    first = glossary_seed(game=elden_ring)
    assert first.created == 4
    assert set(glossary_terms(game="elden-ring")) == {"말레니아", "Malenia", "물새 난무", "Waterfowl Dance"}
    # staff switch one off and add their own
    GlossaryTerm.objects.filter(term="물새 난무").update(is_active=False)
    GlossaryTerm.objects.create(game=elden_ring, term="Let Me Solo Her")
    second = glossary_seed(game=elden_ring)
    assert second.created == 0
    assert set(glossary_terms(game="elden-ring")) == {"말레니아", "Malenia", "Waterfowl Dance", "Let Me Solo Her"}
    assert GlossaryTerm.objects.get(term="Let Me Solo Her").source == "staff"
    assert GlossaryTerm.objects.get(term="Malenia").source == "seeded"


def test_glossary_terms_are_per_game(make_document, elden_ring, league):
    GlossaryTerm.objects.create(game=elden_ring, term="Malenia")
    GlossaryTerm.objects.create(game=league, term="Lee Sin")
    assert glossary_terms(game="league-of-legends") == ["Lee Sin"]
    assert glossary_terms(game="zelda") == []


def test_the_seed_command_reports_per_game(make_document, elden_ring, league):
    make_document(content="말레니아(Malenia)")
    out = io.StringIO()
    call_command("seed_glossary", stdout=out)
    assert "elden-ring: 2 new" in out.getvalue() and "league-of-legends: 0 new" in out.getvalue()
    with pytest.raises(CommandError, match="unknown game"):
        call_command("seed_glossary", "--game", "zelda")
