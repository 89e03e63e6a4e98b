"""chunk_search: filters together, published and same-model only, and the true top k whatever the filter."""

import math
import random
import struct

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from pgvector import Vector

from ai.embeddings import get_embedder
from knowledge.models import Chunk, Document
from knowledge.search import chunk_search, chunk_search_with_plan, halfvec_text
from knowledge.services.documents import document_publish, document_unpublish

pytestmark = pytest.mark.django_db
MODEL = "synthetic-model"


def unit(vector):
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


def random_unit(rng, dim):
    return unit([rng.gauss(0, 1) for _ in range(dim)])


def near(rng, center, spread=0.3):
    return unit([c + rng.gauss(0, spread / math.sqrt(len(center))) for c in center])


def add_chunks(document, vectors, *, model=MODEL, searchable=True):
    """Chunks with given vectors (what indexing would have stored), bypassing the embedder."""
    start = Chunk.objects.filter(document=document).count()
    Chunk.objects.bulk_create(
        Chunk(document=document, content_hash=document.content_hash, position=start + i, text=f"{document.title} #{i}",
              token_count=3, embedding=v, embedding_model=model, embedded_at=document.created_at,
              game=document.game, category=document.category, tags=document.tags, searchable=searchable)
        for i, v in enumerate(vectors)
    )  # fmt: skip


def half(vector):
    """The vector as PostgreSQL stores a halfvec (each number rounded to half precision)."""
    values = vector.to_list() if hasattr(vector, "to_list") else list(vector)
    return struct.unpack(f"{len(values)}e", struct.pack(f"{len(values)}e", *values))


def cosine_distance(query, chunk):
    """What PostgreSQL computes for `embedding <=> query::halfvec`: both vectors at half precision."""
    q, c = half(query), half(chunk.embedding)
    dot = sum(a * b for a, b in zip(q, c, strict=True))
    return 1 - dot / math.sqrt(sum(a * a for a in q) * sum(b * b for b in c))


def exact_top(query, chunks, k):
    scored = sorted(chunks, key=lambda c: (cosine_distance(query, c), c.pk))
    return [c.pk for c in scored[:k]]


@pytest.fixture
def doc(elden_ring):
    def make(title, *, category="boss", tags=(), status=Document.Status.PUBLISHED, game=None):
        return Document.objects.create(
            game=game or elden_ring, title=title, content=title, content_hash=title, indexed_hash=title,
            category=category, tags=list(tags), status=status, index_status="ready",
        )  # fmt: skip

    return make


def test_filters_on_game_category_and_any_tag_together(elden_ring, league, doc, settings):
    dim = settings.EMBEDDING_DIM
    rng = random.Random(1)
    query = random_unit(rng, dim)
    documents = {
        "boss-malenia": doc("boss-malenia", tags=["malenia", "phase-2"]),
        "boss-radahn": doc("boss-radahn", tags=["radahn"]),
        "boss-untagged": doc("boss-untagged"),
        "build-malenia": doc("build-malenia", category="build", tags=["malenia"]),
        "lol-malenia": doc("lol-malenia", tags=["malenia"], game=league),
    }
    for document in documents.values():
        add_chunks(document, [near(rng, query) for _ in range(3)])

    def titles(**filters):
        hits = chunk_search(game="elden-ring", embedding=query, model_name=MODEL, k=50, **filters)
        return {h.title for h in hits}

    assert titles() == {"boss-malenia", "boss-radahn", "boss-untagged", "build-malenia"}
    assert titles(category="boss") == {"boss-malenia", "boss-radahn", "boss-untagged"}
    assert titles(category="boss", tags=["malenia"]) == {"boss-malenia"}
    assert titles(tags=["phase-2", "radahn"]) == {"boss-malenia", "boss-radahn"}
    assert titles(tags=["malenia"]) == {"boss-malenia", "build-malenia"}
    assert titles(category="lore") == set()
    assert chunk_search(game="zelda", embedding=query, model_name=MODEL) == []


def test_only_published_live_chunks_of_the_same_model_are_returned(doc, settings):
    rng = random.Random(2)
    query = random_unit(rng, settings.EMBEDDING_DIM)
    add_chunks(doc("published"), [near(rng, query)])
    add_chunks(doc("other-model"), [near(rng, query)], model="text-embedding-3-small")
    add_chunks(doc("draft", status=Document.Status.DRAFT), [near(rng, query)], searchable=False)
    hits = chunk_search(game="elden-ring", embedding=query, model_name=MODEL)
    assert [h.title for h in hits] == ["published"]
    assert [h.title for h in chunk_search(game="elden-ring", embedding=query, model_name="text-embedding-3-small")] == [
        "other-model"
    ]


def test_hits_come_nearest_first_with_what_the_coach_cites(doc, settings):
    rng = random.Random(3)
    query = random_unit(rng, settings.EMBEDDING_DIM)
    document = doc("guide")
    Document.objects.filter(pk=document.pk).update(source_url="https://example.com/guide")
    add_chunks(document, [near(rng, query, spread=s) for s in (2.0, 0.1, 1.0)])
    hits = chunk_search(game="elden-ring", embedding=query, model_name=MODEL)
    assert [h.position for h in hits] == [1, 2, 0]
    assert hits[0].distance < hits[1].distance < hits[2].distance
    assert hits[0].url == "https://example.com/guide" and hits[0].document_id == document.pk
    assert hits[0].document_updated_at == Document.objects.get(pk=document.pk).updated_at
    assert hits[0].start_time is None


def test_k_defaults_to_the_top_k_setting(doc, settings):
    settings.RETRIEVAL_TOP_K = 3
    rng = random.Random(4)
    add_chunks(doc("many"), [random_unit(rng, settings.EMBEDDING_DIM) for _ in range(10)])
    assert (
        len(chunk_search(game="elden-ring", embedding=random_unit(rng, settings.EMBEDDING_DIM), model_name=MODEL)) == 3
    )


def _clustered_corpus(doc, settings, rng):
    """600 chunks near one centre (category boss) and 8 far away (category lore, tag rare)."""
    dim = settings.EMBEDDING_DIM
    centre, elsewhere = random_unit(rng, dim), random_unit(rng, dim)
    add_chunks(doc("crowd"), [near(rng, centre) for _ in range(600)])
    rare = doc("rare", category="lore", tags=["rare"])
    add_chunks(rare, [near(rng, elsewhere, spread=1.5) for _ in range(8)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE knowledge_chunk")
    return centre, rare


def test_a_selective_filter_far_from_the_query_still_gets_the_true_top_k_exactly(doc, settings):
    rng = random.Random(5)
    centre, rare = _clustered_corpus(doc, settings, rng)
    hits, plan = chunk_search_with_plan(game="elden-ring", embedding=centre, model_name=MODEL, tags=["rare"])
    assert plan.path == "exact" and plan.filtered_rows == 8
    assert [h.chunk_id for h in hits] == exact_top(centre, list(Chunk.objects.filter(document=rare)), 5)


def test_a_large_filtered_set_goes_through_hnsw_with_iterative_scans(doc, settings):
    settings.RETRIEVAL_EXACT_MAX_ROWS = 100
    rng = random.Random(6)
    centre, _ = _clustered_corpus(doc, settings, rng)
    hits, plan = chunk_search_with_plan(game="elden-ring", embedding=centre, model_name=MODEL, category="boss")
    assert plan.path == "hnsw" and plan.filtered_rows == 101  # counted up to the threshold only
    crowd = list(Chunk.objects.filter(category="boss"))
    truth = exact_top(centre, crowd, 5)
    assert len(set(truth) & {h.chunk_id for h in hits}) >= 4  # approximate, but close
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def test_a_small_tagged_set_inside_a_large_category_is_searched_exactly(doc, settings):
    # given a category larger than the exact-scan limit, and a tag only 8 of its chunks carry
    settings.RETRIEVAL_EXACT_MAX_ROWS = 100
    rng = random.Random(10)
    dim = settings.EMBEDDING_DIM
    centre, elsewhere = random_unit(rng, dim), random_unit(rng, dim)
    add_chunks(doc("crowd"), [near(rng, centre) for _ in range(300)])
    rare = doc("rare", tags=["rare"])
    add_chunks(rare, [near(rng, elsewhere, spread=1.5) for _ in range(8)])
    # when searching the tag from the crowd
    hits, plan = chunk_search_with_plan(
        game="elden-ring", embedding=centre, model_name=MODEL, category="boss", tags=["rare"]
    )
    # then the 8 are scanned exactly (HNSW walking from the crowd would miss them): the true top 5
    assert plan.path == "exact" and plan.filtered_rows == 8
    assert [h.chunk_id for h in hits] == exact_top(centre, list(Chunk.objects.filter(document=rare)), 5)


def test_a_large_tagged_set_goes_through_hnsw(doc, settings):
    settings.RETRIEVAL_EXACT_MAX_ROWS = 100
    rng = random.Random(11)
    centre = random_unit(rng, settings.EMBEDDING_DIM)
    add_chunks(doc("tagged", tags=["meta"]), [near(rng, centre) for _ in range(300)])
    hits, plan = chunk_search_with_plan(game="elden-ring", embedding=centre, model_name=MODEL, tags=["meta"])
    assert plan.path == "hnsw" and plan.filtered_rows == 101
    assert len(hits) == 5


def test_hnsw_hits_come_nearest_first_with_their_cosine_distance(doc, settings):
    # relaxed-order iterative scans return rows roughly nearest first; the hits are put in exact order
    settings.RETRIEVAL_EXACT_MAX_ROWS = 0
    rng = random.Random(12)
    centre, _ = _clustered_corpus(doc, settings, rng)
    hits, plan = chunk_search_with_plan(game="elden-ring", embedding=centre, model_name=MODEL, category="boss")
    assert plan.path == "hnsw" and len(hits) == 5
    chunks = Chunk.objects.in_bulk([h.chunk_id for h in hits])
    distances = [h.distance for h in hits]
    assert distances == pytest.approx([cosine_distance(centre, chunks[h.chunk_id]) for h in hits], abs=1e-5)
    assert distances == sorted(distances)


def test_the_embedding_column_has_exactly_one_ann_index_hnsw_cosine_over_searchable_rows():
    # two ANN indexes on one column mislead the planner: it may pick the one whose walk the filter empties
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'knowledge_chunk' "
            "AND (indexdef ILIKE '%%USING hnsw%%' OR indexdef ILIKE '%%USING ivfflat%%')"
        )
        definitions = [row[0] for row in cursor.fetchall()]
    assert len(definitions) == 1
    assert "USING hnsw (embedding halfvec_cosine_ops)" in definitions[0]
    assert "WHERE searchable" in definitions[0]


def test_the_hnsw_path_is_served_by_the_index(doc, settings):
    # given the HNSW path's query as the selector sends it
    settings.RETRIEVAL_EXACT_MAX_ROWS = 0
    rng = random.Random(13)
    centre, _ = _clustered_corpus(doc, settings, rng)
    with CaptureQueriesContext(connection) as captured:
        chunk_search_with_plan(game="elden-ring", embedding=centre, model_name=MODEL, category="boss")
    (search_sql,) = [q["sql"] for q in captured.captured_queries if "halfvec" in q["sql"]]
    # when PostgreSQL plans it with every other way of ordering the rows priced out
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + search_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # then it walks the HNSW index (an expression that drifted from the index's would sort instead)
    assert "chunk_embedding_hnsw" in plan


def test_the_exact_path_never_walks_the_hnsw_index(doc, settings):
    # given the exact path's query as the selector sends it
    rng = random.Random(14)
    centre, _ = _clustered_corpus(doc, settings, rng)
    with CaptureQueriesContext(connection) as captured:
        _, plan = chunk_search_with_plan(game="elden-ring", embedding=centre, model_name=MODEL, category="boss")
    assert plan.path == "exact"
    (search_sql,) = [q["sql"] for q in captured.captured_queries if "halfvec" in q["sql"]]
    # when PostgreSQL plans it with a sort priced high, as for a set it takes to be large
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + search_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # then it still scans the filtered rows: the index's walk would be post-filtered (rows missing)
    assert "chunk_embedding_hnsw" not in plan
    assert "Sort" in plan


def test_never_fewer_than_k_when_hnsw_gives_up_early(doc, settings):
    # given half the rows near the query and half (another category) far from it, HNSW forced and
    # allowed to walk only a few tuples
    settings.RETRIEVAL_EXACT_MAX_ROWS = 0
    settings.RETRIEVAL_HNSW_EF_SEARCH = 5
    settings.RETRIEVAL_HNSW_MAX_SCAN_TUPLES = 1
    rng = random.Random(8)
    dim = settings.EMBEDDING_DIM
    centre, elsewhere = random_unit(rng, dim), random_unit(rng, dim)
    add_chunks(doc("near"), [near(rng, centre) for _ in range(400)])
    far = doc("far", category="lore")
    add_chunks(far, [near(rng, elsewhere) for _ in range(400)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE knowledge_chunk")
    # when searching the far category from the near rows
    hits, plan = chunk_search_with_plan(game="elden-ring", embedding=centre, model_name=MODEL, category="lore")
    # then the index walk came back short and the exact scan made up for it: the true top 5
    assert plan.path == "hnsw+exact"
    assert [h.chunk_id for h in hits] == exact_top(centre, list(Chunk.objects.filter(document=far)), 5)


def test_fewer_than_k_only_when_fewer_exist(doc, settings):
    rng = random.Random(9)
    add_chunks(doc("two"), [random_unit(rng, settings.EMBEDDING_DIM) for _ in range(2)])
    assert (
        len(chunk_search(game="elden-ring", embedding=random_unit(rng, settings.EMBEDDING_DIM), model_name=MODEL)) == 2
    )


def test_bad_arguments_are_programming_errors(doc, settings):
    with pytest.raises(ValueError, match="dimensions"):
        chunk_search(game="elden-ring", embedding=[1.0, 0.0], model_name=MODEL)
    with pytest.raises(ValueError, match="k must be"):
        chunk_search(game="elden-ring", embedding=[0.0] * settings.EMBEDDING_DIM, model_name=MODEL, k=0)


def test_unpublishing_takes_a_document_out_of_retrieval_and_publishing_brings_it_back(make_document):
    document = make_document(title="Malenia guide", content="Run away from Scarlet Aeonia.")
    embedder = get_embedder()
    query = embedder.embed(["Scarlet Aeonia"])[0]

    def titles():
        return [h.title for h in chunk_search(game="elden-ring", embedding=query, model_name=embedder.model_name)]

    assert titles() == ["Malenia guide"]
    document_unpublish(document=document)
    assert titles() == []
    document_publish(document=document)
    assert titles() == ["Malenia guide"]


@pytest.mark.parametrize("exact_max_rows", [20000, 10])
def test_per_language_search_gives_each_language_its_own_nearest(doc, settings, exact_max_rows):
    # Korean chunks all nearer the query than any English one: a plain search returns Korean only
    settings.RETRIEVAL_EXACT_MAX_ROWS = exact_max_rows
    rng = random.Random(11)
    centre = random_unit(rng, settings.EMBEDDING_DIM)
    korean, english = doc("말레니아 공략"), doc("Malenia guide")
    add_chunks(korean, [near(rng, centre, 0.2) for _ in range(12)])
    add_chunks(english, [near(rng, centre, 1.5) for _ in range(12)])
    Chunk.objects.filter(document=english).update(language="en")

    plain = chunk_search(game="elden-ring", embedding=centre, model_name=MODEL, k=4)
    hits, plan = chunk_search_with_plan(game="elden-ring", embedding=centre, model_name=MODEL, k=4, per_language=True)

    assert {h.language for h in plain} == {"ko"}
    assert plan.path == ("exact" if exact_max_rows > 24 else "hnsw")
    assert sorted(h.language for h in hits) == ["en"] * 4 + ["ko"] * 4
    for language in ("ko", "en"):
        theirs = list(Chunk.objects.filter(language=language))
        assert {h.chunk_id for h in hits if h.language == language} == set(exact_top(centre, theirs, 4))
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def test_the_query_vector_is_the_halfvec_pgvector_would_send():
    """halfvec_text writes fewer digits than pgvector's Vector.to_text; PostgreSQL reads the same
    halfvec from both, for unit vectors and for values near half precision's limits."""
    rng = random.Random(7)
    vectors = [random_unit(rng, 384) for _ in range(20)]
    vectors.append([rng.choice([1, -1]) * rng.choice([6e-8, 3e-5, 6.1e-5, 0.5, 1.0, 1000.0]) for _ in range(384)])
    vectors.append([(n - 192) / 191.9 for n in range(384)])
    with connection.cursor() as cursor:
        for vector in vectors:
            cursor.execute(
                "SELECT %s::halfvec::text, %s::halfvec::text", [halfvec_text(vector), Vector(vector).to_text()]
            )
            ours, pgvectors = cursor.fetchone()
            assert ours == pgvectors
