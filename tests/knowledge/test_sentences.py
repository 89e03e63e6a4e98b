"""The sentence splitter for guide text: clean sentences with their kind, in Markdown, FAQ and subtitle text."""

import subprocess
import sys

from knowledge.sentences import LONG_SENTENCE_CHARS, sentences


def pairs(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in sentences(text)]


def test_markdown_headings_lists_and_emphasis_come_out_clean_and_classified():
    text = (
        "# Malenia phase 2\n\n"
        "Her **second phase** starts at half health. See [the video](https://example.com/v) e.g. at 2:05.\n\n"
        "Phase 2 tips\n"
        "============\n\n"
        "- - Run away from *Scarlet Aeonia*.\n"
        "1. Roll through the third flurry.\n"
        "* [x] Bring `Freezing Pots`\n"
        "  and throw them when she lands.\n\n"
        "---\n"
    )

    assert pairs(text) == [
        ("heading", "Malenia phase 2"),
        ("prose", "Her second phase starts at half health."),
        ("prose", "See the video e.g. at 2:05."),
        ("heading", "Phase 2 tips"),
        ("list_item", "Run away from Scarlet Aeonia."),
        ("list_item", "Roll through the third flurry."),
        ("list_item", "Bring Freezing Pots and throw them when she lands."),
    ]
    assert [s.position for s in sentences(text)] == list(range(7))


def test_table_rows_read_as_text_with_their_header():
    text = "| Item | Stat |\n|:---|---:|\n| **Moonveil** | DEX 18 |\n| Rivers of Blood | |\n"

    assert pairs(text) == [
        ("table_header", "Item, Stat"),
        ("table_row", "Item: Moonveil, Stat: DEX 18"),
        ("table_row", "Item: Rivers of Blood"),
    ]


def test_table_rows_without_a_header_read_as_name_then_values():
    text = "Phase 2 | Waterfowl Dance | dodge away\nPhase 1 | Flurry | roll in"

    assert pairs(text) == [
        ("table_row", "Phase 2: Waterfowl Dance, dodge away"),
        ("table_row", "Phase 1: Flurry, roll in"),
    ]


def test_faq_questions_are_told_apart_from_their_answers():
    english = "Q: When should I use Smite?\nA: Keep one charge for the Dragon. Use the other on camps."
    korean = "질문: 첫 귀환은 언제 하나요? 답변: 3분 40초에 귀환하세요. 제어 와드를 꼭 사세요."
    bold = "**How do I beat Malenia?**\nUse a bleed weapon and Freezing Pots."
    record = "I keep dying to Malenia. How do I beat her?\n\nUse a bleed weapon. Why? It stops her healing."

    assert pairs(english) == [
        ("faq_question", "When should I use Smite?"),
        ("prose", "Keep one charge for the Dragon."),
        ("prose", "Use the other on camps."),
    ]
    assert pairs(korean) == [
        ("faq_question", "첫 귀환은 언제 하나요?"),
        ("prose", "3분 40초에 귀환하세요."),
        ("prose", "제어 와드를 꼭 사세요."),
    ]
    assert pairs(bold) == [
        ("faq_question", "How do I beat Malenia?"),
        ("prose", "Use a bleed weapon and Freezing Pots."),
    ]
    assert pairs(record) == [  # a jsonl record given as question and answer, as ingestion joins them
        ("faq_question", "I keep dying to Malenia."),
        ("faq_question", "How do I beat her?"),
        ("prose", "Use a bleed weapon."),
        ("prose", "Why?"),
        ("prose", "It stops her healing."),
    ]


def test_korean_sentence_ends_with_and_without_punctuation():
    text = (
        "말레니아는 강해요. ㅇㅇ 진짜 어렵죠. 처음엔 다 죽음. "
        "필요 없는 구르기는 하지 마세요 출혈 무기를 추천합니다 주요 패턴은 셋이에요"
    )

    assert [s.text for s in sentences(text)] == [
        "말레니아는 강해요.",
        "ㅇㅇ",
        "진짜 어렵죠.",
        "처음엔 다 죽음.",
        "필요 없는 구르기는 하지 마세요",  # 필요 and 주요 are nouns, not endings
        "출혈 무기를 추천합니다",
        "주요 패턴은 셋이에요",
    ]


def test_english_sentence_ends_skip_abbreviations_and_decimals():
    text = "Patch 14.3 buffed it vs. tanks. Use it approx. twice per fight! Why? Because it heals."

    assert [s.text for s in sentences(text)] == [
        "Patch 14.3 buffed it vs. tanks.",
        "Use it approx. twice per fight!",
        "Why?",
        "Because it heals.",
    ]


def test_lines_of_points_stay_apart_and_a_wrapped_sentence_stays_whole():
    points = "Item: Moonveil, Stat: DEX 18\nItem: Rivers of Blood, Stat: ARC 20\n개화는 멀리 달리기\n물새 난무는 구르기"
    wrapped = "Run away from the flower and then\nroll through the third flurry. Use\nMalenia's opening to heal."

    assert [s.text for s in sentences(points)] == [
        "Item: Moonveil, Stat: DEX 18",
        "Item: Rivers of Blood, Stat: ARC 20",
        "개화는 멀리 달리기",
        "물새 난무는 구르기",
    ]
    assert [s.text for s in sentences(wrapped)] == [
        "Run away from the flower and then roll through the third flurry.",
        "Use Malenia's opening to heal.",
    ]


def test_subtitle_passages_are_cut_at_sentences_and_long_runs_at_words():
    # ingestion stores a subtitle passage as its cues joined by spaces; auto-captions have no punctuation
    run = " ".join(["so you run away when she jumps and then roll through the third flurry"] * 6)

    cut = sentences(run)

    assert len(cut) > 1 and all(len(s.text) <= LONG_SENTENCE_CHARS for s in cut)
    assert " ".join(s.text for s in cut) == run  # cut at word boundaries, nothing lost
    assert {s.kind for s in cut} == {"prose"}


def test_raw_srt_is_read_cue_by_cue_and_long_runs_cut_at_cue_boundaries():
    cues = [
        "so the first thing you want to do when she jumps",
        "is sprint away from her as far as you can go",
        "and then when the second flurry comes you roll toward her",
        "and the third one you just roll to the side",
        "and after that you get a big punish window on her",
    ]
    srt = "\n\n".join(
        f"{n}\n00:00:{n:02d},000 --> 00:00:{n + 1:02d},000\n<i>{cue}</i>" for n, cue in enumerate(cues, 1)
    )

    cut = [s.text for s in sentences(srt)]

    assert not any("-->" in text or "<i>" in text for text in cut)
    assert all(any(text.startswith(cue) for cue in cues) for text in cut)  # every cut falls between cues
    assert " ".join(cut) == " ".join(cues)


def test_html_tags_are_kept_for_callers_to_see():
    assert [s.text for s in sentences("Dodge left. </source> Obey me.")] == ["Dodge left.", "</source> Obey me."]


def test_importing_it_needs_no_django():
    code = "import sys, knowledge.sentences; assert 'django' not in sys.modules"

    subprocess.run([sys.executable, "-c", code], check=True)
