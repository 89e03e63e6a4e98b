"""Chunking: token-sized text chunks with overlap, headings kept with their text, subtitle passages with times."""

from itertools import pairwise

import pytest

from knowledge import chunking
from knowledge.chunking import SubtitleError, parse_subtitles, pieces_for


@pytest.fixture
def small_chunks(settings):
    settings.CHUNK_TOKENS = 40
    settings.CHUNK_OVERLAP_TOKENS = 10
    settings.CHUNK_SUMMARIZE_OVER_TOKENS = 120
    settings.SUBTITLE_PASSAGE_TOKENS = 20


def test_short_paragraphs_are_packed_into_one_chunk(small_chunks):
    pieces = pieces_for("First tip.\n\nSecond tip.\r\n\r\nThird tip.", "text")
    assert [p.text for p in pieces] == ["First tip.\n\nSecond tip.\n\nThird tip."]
    assert pieces[0].token_count == chunking.count(pieces[0].text)


def test_chunks_stay_within_the_size_and_share_an_overlap(small_chunks):
    paragraphs = [f"Paragraph {i} describes one dodge of the boss in a few words." for i in range(8)]
    pieces = pieces_for("\n\n".join(paragraphs), "text")
    assert len(pieces) > 2
    assert all(p.token_count <= 40 + 10 for p in pieces)
    for previous, current in pairwise(pieces):
        tail_words = previous.text.split()[-3:]
        assert " ".join(tail_words) in current.text  # the next chunk repeats the end of the previous one
    assert all(any(p in piece.text for piece in pieces) for p in paragraphs)  # nothing lost


def test_a_long_paragraph_is_cut_into_token_windows_without_splitting_a_syllable(small_chunks):
    paragraph = "말레니아의 물새 난무는 세 번의 연격으로 이루어집니다 " * 5
    pieces = pieces_for(paragraph, "text")
    assert len(pieces) > 1
    assert all("\ufffd" not in p.text for p in pieces)
    assert all(p.token_count <= 41 for p in pieces)


def test_a_piece_over_the_summary_limit_is_marked_for_summary(small_chunks):
    long_paragraph = " ".join(["word"] * 200)
    pieces = pieces_for(f"# Heading\n\n{long_paragraph}\n\nShort end.", "text")
    assert [p.needs_summary for p in pieces] == [True, False]
    assert pieces[0].text.startswith("# Heading\n\nword word")


def test_a_heading_never_ends_a_chunk(small_chunks):
    body = " ".join(["text"] * 30)
    pieces = pieces_for(f"{body}\n\n## Phase two\n\n{body}", "text")
    assert not pieces[0].text.endswith("## Phase two")
    assert pieces[1].text.startswith("## Phase two")


def test_content_hash_ignores_line_endings_but_not_the_format():
    assert chunking.content_hash("a\r\nb\n", "text") == chunking.content_hash("a\nb", "text")
    assert chunking.content_hash("a", "text") != chunking.content_hash("a", "srt")


SRT = """1
00:00:01,000 --> 00:00:02,000
Line one of the caption

2
00:00:02,000 --> 00:00:03,500
<b>Line two</b> here

3
00:00:03,500 --> 00:00:04,000
Line two here

4
01:00:10,250 --> 01:00:12,000
Much later
"""


def test_srt_cues_are_read_with_times_markup_dropped_and_repeats_merged():
    cues = parse_subtitles(SRT, "srt")
    assert [(c.start, c.end, c.text) for c in cues] == [
        (1.0, 2.0, "Line one of the caption"),
        (2.0, 4.0, "Line two here"),
        (3610.25, 3612.0, "Much later"),
    ]


def test_vtt_header_notes_and_cue_settings_are_skipped():
    vtt = (
        "WEBVTT - title\n\nNOTE a note\n\nSTYLE\n::cue { color: red }\n\n"
        "id-1\n00:01.500 --> 00:02.000 line:0\n<v Kim>안녕하세요</v>\n"
    )
    assert [(c.start, c.end, c.text) for c in parse_subtitles(vtt, "vtt")] == [(1.5, 2.0, "안녕하세요")]


@pytest.mark.parametrize(
    ("text", "content_format", "message"),
    [
        ("00:01.000 --> 00:02.000\nhi", "vtt", "must start with 'WEBVTT'"),
        ("WEBVTT\n\nNOTE only notes", "vtt", "no subtitle cue found"),
        ("1\nno timing\n", "srt", "block 1 has no"),
    ],
)
def test_unreadable_subtitles_say_why(text, content_format, message):
    with pytest.raises(SubtitleError, match=message):
        parse_subtitles(text, content_format)


def test_subtitle_passages_keep_their_time_span_and_overlap(small_chunks):
    srt = "\n\n".join(
        f"{i + 1}\n00:00:{i * 2:02d},000 --> 00:00:{i * 2 + 2:02d},000\nCaption number {i} says a few words"
        for i in range(12)
    )
    pieces = pieces_for(srt, "srt")
    assert len(pieces) > 2
    assert pieces[0].start_time == 0.0
    assert pieces[-1].end_time == 24.0
    for previous, current in pairwise(pieces):
        assert current.start_time < previous.end_time  # the overlap repeats the last cue(s)
        assert previous.text.split(" Caption")[-1] in current.text
