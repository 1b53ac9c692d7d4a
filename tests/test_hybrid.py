"""Issue 14: search by meaning (the encoders, the stored vectors, the fused ranking), typo
tolerance on words as written, strict phrases in topics, and the query parsing bugs.

The demo corpus is embedded once per test process: the index memoizes vectors by text, so
every ``demo_bot`` after the first reuses them (see bot/search.py ``_EMBED_MEMO``).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from bot.cli import import_papers
from bot.embeddings import MiniLMEncoder, StaticEncoder, encode_many, load_encoder
from bot.models import Paper
from bot.query import QueryError, parse_query, quoted
from bot.replies import Request
from bot.search import SearchIndex

# sentence-transformers' all-MiniLM-L6-v2 (torch, exact GELU) for this sentence, dims 0-7,
# computed once on another machine set-up; our numpy pass uses the tanh GELU (~2e-4 off).
REFERENCE = [-0.07864, -0.07835, -0.00471, -0.03152, -0.0999, 0.06553, 0.08894, -0.01415]


def ask(bot, text: str, **kwargs) -> object:
    return bot.handle(Request(text=text, **kwargs))


@pytest.fixture(scope="session")
def minilm() -> MiniLMEncoder:
    encoder = load_encoder("minilm")
    assert isinstance(encoder, MiniLMEncoder), "the bundled MiniLM package must load offline"
    return encoder


def test_minilm_matches_the_reference_implementation(minilm) -> None:
    vec = minilm.encode(["Speech recognition with transducers"])[0]
    assert vec.dtype == np.float32 and vec.shape == (384,)
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    assert np.allclose(vec[:8], REFERENCE, atol=1e-3)


def test_many_texts_are_embedded_in_helper_processes_in_order(minilm, caplog) -> None:
    """A backfill's texts go to one helper process per core (real processes, each loading
    the model): the same rows, in the same order, as one process gives."""
    texts = [f"Paper {n} about {topic}" for n, topic in enumerate(["speech", "vision"] * 300)]
    alone = minilm.encode(texts)
    caplog.set_level(logging.INFO, logger="bot.embeddings")
    spread = encode_many(minilm, texts, processes=2, parallel_from=100)
    assert "embedding 600 texts in 2 processes" in caplog.text
    assert "using one" not in caplog.text  # the helpers did it, no fallback
    assert spread.shape == alone.shape == (600, 384)
    assert np.allclose(spread, alone, atol=1e-5)
    assert not np.allclose(spread[0], spread[1], atol=1e-3)  # distinct rows, not one repeated


@pytest.mark.parametrize("make", [lambda: load_encoder("minilm"), StaticEncoder])
def test_paraphrases_are_closer_than_unrelated_text(make) -> None:
    encoder = make()
    a, b, c = encoder.encode(
        [
            "Speech recognition with transducers",
            "Automatic transcription of spoken audio",
            "A recipe for chocolate cake",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_vectors_are_stored_beside_the_index_and_reused(demo_bot, tmp_path) -> None:
    folder = tmp_path / "data" / "index"
    assert (folder / "vectors.npy").is_file() and (folder / "vectors.json").is_file()
    reopened = SearchIndex(folder)
    assert len(reopened.vectors) == demo_bot.store.paper_count()
    assert reopened.vectors.matrix.dtype == np.float16
    assert reopened.sync(demo_bot.store) is False  # nothing embedded at start-up
    assert reopened._encoder_loaded is False  # the model is not even loaded


def test_paraphrase_finds_papers_without_the_words(demo_bot) -> None:
    page = demo_bot.index.search(parse_query("portrait animation"), per_page=10)
    titles = [demo_bot.store.get_paper(h.paper_id).title for h in page.hits]
    assert titles[0].startswith("LivePortrait")
    # Avatars driven by audio: neither word in some of them, found by meaning.
    assert any("Avatar" in t and "ortrait" not in t and "nimation" not in t for t in titles)


def test_filters_stay_hard_constraints_for_meaning_matches(demo_bot) -> None:
    for query in ("portrait animation cat:cs.CL", "portrait animation -avatar"):
        parsed = parse_query(query)
        for hit in demo_bot.index.search(parsed, per_page=10).hits:
            paper = demo_bot.store.get_paper(hit.paper_id)
            if parsed.categories:
                assert "cs.CL" in paper.categories
            text = f"{paper.title} {paper.abstract} {' '.join(paper.ai_keywords)}".lower()
            if parsed.excluded:
                assert "avatar" not in text


def test_typo_on_a_surface_form_is_found_and_shown_corrected(demo_bot) -> None:
    right = demo_bot.index.search(parse_query("generalization"), per_page=50)
    typo = demo_bot.index.search(parse_query("generalizatin"), per_page=50)
    assert typo.corrected == ("generalizatin",)
    having = {
        p.id
        for p in demo_bot.store.papers()
        if "generalization" in f"{p.title} {p.abstract} {' '.join(p.ai_keywords)}".lower()
    }
    assert len(having) > 1 and right.total >= len(having)
    assert having <= {h.paper_id for h in typo.hits}  # all of them, not one
    paper = demo_bot.store.get_paper(typo.hits[0].paper_id)
    terms = demo_bot.index.matched_terms(parse_query("generalizatin"), paper, typo.hits[0].terms)
    assert terms == ("generalization",)
    reply = ask(demo_bot, "search transfomer")
    assert "matched" not in reply.text or "transfomer" in reply.text  # the note names the typo
    assert all("transfomer" not in t for c in reply.cards for t in c.matched_terms)


def test_quoted_phrase_is_strict_in_topics(demo_bot) -> None:
    evo = [p.id for p in demo_bot.store.papers() if p.title.startswith("EvoArena")]
    assert evo and evo[0] in demo_bot.digests.topic_matches("evolution memory", "2026-06-12")
    assert demo_bot.digests.topic_matches('"evolution memory"', "2026-06-12") == {}
    assert demo_bot.index.search(parse_query('"evolution memory"')).total == 0


def test_meaning_only_topic_match_says_why(demo_bot) -> None:
    paper = Paper(
        id="2706.00001",
        title="Transcribing spoken audio into text with end-to-end neural transducers",
        abstract="We convert utterances to written words with a streaming transducer model "
        "and evaluate word error rate on conversational telephone corpora.",
        daily_date="2026-06-12",
        upvotes=500,
    )
    import_papers(demo_bot, [paper])
    demo_bot.handle(Request("subscribe speech recognition"))
    ch = demo_bot.store.get_channel("console:local:demo")
    cards = {c.paper.id: c for c in demo_bot.digest_for(ch).cards}
    assert paper.id in cards
    assert cards[paper.id].matched_terms == ("similar in meaning to speech recognition",)


def test_topics_compare_float32_vectors_with_their_threshold(demo_bot, tmp_path) -> None:
    """The topic threshold was set on float32 vectors: a topic's meaning matches use the
    papers' own encoding, never the search's int8 query vector (which moves a cosine by
    up to 0.03 and would flip about one match in ten near the threshold)."""
    index = demo_bot.index
    topic = "portrait animation"
    found = index.matching_ids(parse_query(topic))
    words_only = SearchIndex(tmp_path / "bm25", encoder="none")
    words_only.rebuild(demo_bot.store.papers(), 1)
    by_words = words_only.matching_ids(parse_query(topic))
    by_meaning = {pid: s for pid, s in found.items() if pid not in by_words}
    assert by_meaning, "the topic should match some papers by meaning alone"
    exact = index.vectors.scores(index.encoder.encode([topic])[0], by_meaning)
    assert all(abs(by_meaning[pid] - exact[pid]) < 1e-6 for pid in by_meaning)
    fast = index.vectors.scores(index.encoder.encode_query(topic), by_meaning)
    assert any(abs(fast[pid] - exact[pid]) > 1e-4 for pid in by_meaning)  # not the same


def test_empty_filter_is_refused() -> None:
    for text in ("author:", "transformers author:", "cat:", 'author:""', "since:"):
        with pytest.raises(QueryError, match="needs a value"):
            parse_query(text)


def test_repeated_page_flag(demo_bot) -> None:
    reply = ask(demo_bot, "search model --page 2 --page 3")
    assert reply.footer.startswith("Page 3 of")
    assert "for “model”" in reply.text


def test_reply_header_does_not_double_quotes(demo_bot) -> None:
    reply = ask(demo_bot, 'search "speech recognition"')
    assert "for “speech recognition”." in reply.text and '“"' not in reply.text
    assert quoted('"a b" -c') == '“"a b" -c”'
    assert "No papers match “zzyzxq qqq”" in ask(demo_bot, 'search "zzyzxq qqq"').text


def test_top_results_with_some_words_are_said_so(demo_bot) -> None:
    reply = ask(demo_bot, "search speech zzyzxqq")
    assert reply.cards and "some of them" in reply.text


def test_similar_fuses_vectors_with_more_like_this(demo_bot) -> None:
    paper = next(p for p in demo_bot.store.papers() if p.title.startswith("LivePortrait"))
    hits = demo_bot.index.similar(paper, limit=5)
    assert hits and paper.id not in [h.paper_id for h in hits]
    titles = [demo_bot.store.get_paper(h.paper_id).title for h in hits]
    assert sum("Avatar" in t or "Portrait" in t or "Face" in t for t in titles) >= 3


def test_the_shipped_demo_vectors_cover_the_demo_corpus_and_match_the_encoder(minilm) -> None:
    """bot/data/demo_vectors.npz (scripts/build_demo_vectors.py) must be rebuilt when the
    demo corpus changes, and must hold what the encoder computes."""
    import orjson

    from bot.cli import demo_papers
    from bot.embeddings import paper_text
    from bot.search import DEMO_VECTORS
    from bot.vectors import text_checksum

    with np.load(DEMO_VECTORS, allow_pickle=False) as shipped:
        assert str(shipped["model"]) == minilm.name
        by_checksum = dict(zip(shipped["checksums"].tolist(), shipped["vectors"], strict=True))
    papers = demo_papers()
    texts = [paper_text(p.title, p.abstract) for p in papers]
    assert len(papers) == len(orjson.loads(DEMO_VECTORS.with_name("demo_corpus.json").read_bytes()))
    missing = [t[:60] for t in texts if text_checksum(t) not in by_checksum]
    assert missing == []
    fresh = minilm.encode(texts[:3])
    for text, row in zip(texts[:3], fresh, strict=True):
        stored = by_checksum[text_checksum(text)].astype(np.float32)
        assert float(stored @ row) > 0.999


def test_subscribed_phrase_keeps_its_quotes_and_is_strict(demo_bot) -> None:
    # EvoArena has both words, in another order: a plain-word topic carries it, the phrase not.
    (evo,) = [p.id for p in demo_bot.store.papers() if p.title.startswith("EvoArena")]
    reply = ask(demo_bot, "subscribe “evolution memory”", channel_id="phrase")  # autocorrect
    assert "Subscribed to “evolution memory”" in reply.text and '“"' not in reply.text
    assert [t.query for t in demo_bot.store.topics("console:local:phrase")] == [
        '"evolution memory"'
    ]
    assert '1. "evolution memory"  (added by' in ask(demo_bot, "topics", channel_id="phrase").text
    phrase = demo_bot.digest_for(demo_bot.store.get_channel("console:local:phrase"))
    assert evo not in {c.paper.id for c in phrase.cards}
    preview = ask(demo_bot, 'preview "evolution memory"')
    assert preview.title.startswith("Preview of “evolution memory”,")
    assert evo not in {c.paper.id for c in preview.cards}

    ask(demo_bot, "subscribe evolution memory", channel_id="words")
    assert [t.query for t in demo_bot.store.topics("console:local:words")] == ["evolution memory"]
    words = demo_bot.digest_for(demo_bot.store.get_channel("console:local:words"))
    assert evo in {c.paper.id for c in words.cards}
    assert next(c for c in words.cards if c.paper.id == evo).topic == "evolution memory"
    preview = ask(demo_bot, "preview evolution memory")
    assert evo in {c.paper.id for c in preview.cards}
    (subscribe,) = preview.buttons
    assert subscribe.command == "subscribe evolution memory"
    # One quoted word marks no phrase; quotes elsewhere in a topic are kept as typed.
    ask(demo_bot, 'subscribe "agents"', channel_id="words")
    ask(demo_bot, 'subscribe "speech recognition" -noise', channel_id="words")
    assert [t.query for t in demo_bot.store.topics("console:local:words")][1:] == [
        "agents",
        '"speech recognition" -noise',
    ]
    assert (
        "Unsubscribed from “evolution memory”"
        in ask(demo_bot, 'unsubscribe "evolution memory"', channel_id="phrase").text
    )


def test_preview_subscribe_button_keeps_the_phrase(demo_bot) -> None:
    preview = ask(demo_bot, 'preview "sparse attention"')
    (subscribe,) = preview.buttons
    assert subscribe.command == 'subscribe "sparse attention"'
    assert subscribe.action.as_dict()["topic"] == '"sparse attention"'


def test_quoted_topics_round_trip_through_export_and_import(demo_bot) -> None:
    ask(demo_bot, 'subscribe "evolution memory" --alert 30')
    ask(demo_bot, 'subscribe "speech recognition" transducer')
    ask(demo_bot, "subscribe agents")
    text = ask(demo_bot, "export").text
    snippet = text.split("```\n")[1].split("```")[0]
    one = text.rsplit("`/papers import ", 1)[1].rstrip("`")
    expected = [('"evolution memory"', 30), ('"speech recognition" transducer', None)]
    expected.append(("agents", None))
    for source, target in [(snippet, "S1"), (one, "S2")]:
        reply = ask(demo_bot, f"import {source}", channel_id=target)
        assert "and 3 topics" in reply.text, reply.text
        topics = demo_bot.store.topics(f"console:local:{target}")
        assert [(t.query, t.alert_upvotes) for t in topics] == expected
    again = ask(demo_bot, f"import {snippet}", channel_id="S1")
    assert "0 topics (3 already here" in again.text


# ---- speed work (issue 14: search p99 at 100,000 papers) ---------------------------------


def test_one_text_encodes_as_it_does_in_a_batch(minilm) -> None:
    """One text alone gives the vector it gets in a padded batch (the padding is masked
    out of attention and pooling), for short, empty and truncated (over 128 tokens) texts."""
    texts = ["diffusion", "", "quantization of large language models", "speech " * 200]
    batch = minilm.encode([*texts, "a second text, so the batch pass pads"])
    for n, text in enumerate(texts):
        alone = minilm.encode([text])
        assert alone.shape == (1, 384) and alone.dtype == np.float32
        assert np.allclose(alone[0], batch[n], atol=1e-5), text[:20]


def test_float16_rows_widen_exactly() -> None:
    """The probe's bit-moving float16 -> float32 conversion equals numpy's cast for every
    finite float16 (subnormals, both zeros), once its 2**-112 is undone."""
    from bot.vectors import _HALF_SCALE, _widened

    every = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = every[np.isfinite(every)]
    widened = _widened(finite).astype(np.float64) * float(_HALF_SCALE)
    assert np.array_equal(widened, finite.astype(np.float64))
    assert np.array_equal(np.signbit(_widened(finite)), np.signbit(finite))


def test_clustered_nearest_scores_as_the_plain_cast_does() -> None:
    """Above 20,000 rows the store probes clusters; its scores are those of casting the
    probed float16 rows to float32, bit for bit, and so are the ids and their order."""
    from bot.vectors import BRUTE_FORCE_UP_TO, PROBE, VectorStore

    rng = np.random.default_rng(3)
    n, dim = BRUTE_FORCE_UP_TO + 500, 24
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows[:50, :3] = 0.0  # zeros and (after float16) tiny values: the signs must hold
    rows[50:100, :3] = -3e-6
    store = VectorStore(None, "test")
    store.replace({f"p{i}": (i, row) for i, row in enumerate(rows)})
    snap = store._snap
    assert snap.centroids is not None  # clustered, not the brute-force path
    for q in rows[rng.choice(n, 20)] + rng.normal(scale=0.1, size=(20, dim)).astype(np.float32):
        q = (q / np.linalg.norm(q)).astype(np.float32)
        near = np.argsort(-(snap.centroids @ q))[:PROBE]
        spans = [(int(snap.starts[c]), int(snap.starts[c + 1])) for c in near]
        scores = np.concatenate([snap.matrix[lo:hi].astype(np.float32) @ q for lo, hi in spans])
        ids = np.concatenate([np.arange(lo, hi) for lo, hi in spans])
        order = np.argsort(-scores, kind="stable")[:30]
        expected = [(snap.ids[ids[i]], float(scores[i])) for i in order]
        assert store.nearest(q, 30) == expected


def test_query_vector_is_computed_while_bm25_runs(demo_bot) -> None:
    """A search without typos starts its query vector in a helper thread before BM25 runs
    and uses it: the same page as with the vector computed inline beforehand (cached). A
    typo's text depends on the BM25 hits; a typo with another word starts it before the
    every-word query. A search that fails after starting one still fails cleanly."""
    import threading

    from bot import search as search_module

    index = demo_bot.index
    parsed = parse_query("portrait animation")
    search_module._embed_query.cache_clear()
    overlapped = index.search(parsed, per_page=10)
    assert any(t.name.startswith("query-vector") for t in threading.enumerate())
    assert search_module._embed_query.cache_info().misses == 1  # computed once, not twice
    search_module._embed_query.cache_clear()
    vector = index.embed_query("portrait animation")  # computed here, inline
    soon = index._embed_query_soon("portrait animation")
    assert soon is not None and np.array_equal(soon.result(), vector)
    assert index._embed_query_soon("   ") is None  # nothing to embed: nothing started
    again = index.search(parsed, per_page=10)
    assert [h.paper_id for h in again.hits] == [h.paper_id for h in overlapped.hits]
    assert [h.score for h in again.hits] == [h.score for h in overlapped.hits]

    typo = parse_query("animatoin")
    _, corrected = index.build_query(typo, require_all=False)
    assert corrected == ["animatoin"]
    search_module._embed_query.cache_clear()
    index.search(typo)
    # Only the spelled word the BM25 hits have was embedded, never "animatoin" itself.
    assert search_module._embed_query.cache_info().misses == 1
    search_module._embed_query.cache_clear()
    page = index.search(parse_query("animatoin portrait"))
    assert page.corrected == ("animatoin",) and page.hits
    assert search_module._embed_query.cache_info().misses == 1

    # A search failing after its vector was started (a page number too large for
    # tantivy's limit fails in the BM25 half) raises as before; the next one works.
    search_module._embed_query.cache_clear()
    with pytest.raises((OverflowError, ValueError)):
        index.search(parse_query("speech recognition"), page=2**62, per_page=10)
    assert index.search(parse_query("speech recognition")).hits


# ---- the int8 query model (bot/minilm_onnx.py) -------------------------------------------

QUERIES = [
    "gaussian splatting",
    "serving large language models",
    "NeRF",
    "a",
    "ok",  # the lowest seen: one- and two-letter words (0.971)
    "of",
    "speech recognition",
    "Übersetzung 語彙 ≥ 4-bit",
    "rendering new viewpoints of a scene from photos " * 20,  # past 128 word pieces: cut
]


def test_a_query_encodes_in_int8_close_to_the_float32_vector(minilm) -> None:
    """Queries go through onnxruntime's integer kernels; documents stay float32 numpy.
    The two must agree in direction (cosine >= 0.965; the judged queries' median is 0.993),
    not only roughly."""
    assert minilm._int8_query_model() is not None, "onnxruntime must run the query model"
    for text in QUERIES:
        query = minilm.encode_query(text)
        exact = minilm.encode([text])[0]
        assert query.dtype == np.float32 and query.shape == (384,)
        assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
        assert float(query @ exact) >= 0.965, text
    # Not the float32 pass itself (that would mean the int8 model never ran).
    assert not np.allclose(minilm.encode_query("NeRF"), minilm.encode(["NeRF"])[0], atol=1e-4)


def test_weight_columns_quantize_symmetrically() -> None:
    from bot.minilm_onnx import quantize_columns

    rng = np.random.default_rng(3)
    weight = rng.normal(size=(64, 8)).astype(np.float32)
    weight[:, 5] = 0.0  # a column of zeros keeps a usable scale
    q, scale = quantize_columns(weight)
    assert q.dtype == np.int8 and scale.shape == (8,)
    assert np.abs(q).max(axis=0).tolist() == [127] * 5 + [0] + [127] * 2
    assert np.all(np.abs(q * scale - weight) <= scale / 2 + 1e-7)


def test_without_onnxruntime_queries_encode_in_numpy() -> None:
    """A machine without onnxruntime still searches by meaning: one log line, and the
    query vector is the float32 pass's own (a real process where the import fails)."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; sys.modules['onnxruntime'] = None\n"
        "from bot.embeddings import MiniLMEncoder\n"
        "e = MiniLMEncoder.from_package()\n"
        "q = e.encode_query('speech recognition')\n"
        "assert e._int8_query_model() is None\n"
        "print(float(q @ e.encode(['speech recognition'])[0]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) > 0.99999
    assert "query encoding stays in numpy" in done.stderr
