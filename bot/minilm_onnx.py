"""all-MiniLM-L6-v2 for queries: the same weights as an int8 ONNX graph, run by onnxruntime.

Why: a search's query vector is most of a search's time. In numpy, one short query takes
5-10 ms whatever its length, because every product reads all of the model's float32 weights
(42 MB of matrices, ~3.4 ms of memory traffic at the least on the 2-core machine we measure
on). Here the weight matrices are int8, a quarter of the bytes, and onnxruntime runs them
with its integer kernels: ~1.5 ms a query.

How: the graph is built from the encoder's own arrays (:class:`bot.embeddings.MiniLMEncoder`)
when the first query comes, in ~0.3 s, so nothing is downloaded or stored. Each of the 24
weight matrices is quantized symmetrically per output column (scale = the column's largest
magnitude / 127); activations are quantized per product at run time
(``DynamicQuantizeLinear``), as onnxruntime's own dynamic quantization does. Attention
scores, softmax, layer norms and GELU stay float32.

What it costs: a query's vector keeps a cosine of 0.97 or more with the float32 one (median
0.993 over the judged queries; the lowest are one- and two-letter words; checked by
tests/test_hybrid.py), so a cosine against a paper moves by up to ~0.03. Search ranks by
rank fusion, which that hardly moves: ``python bench/relevance.py`` scores the hybrid
0.868-0.870 as before (runs differ by the order of tied typo matches, which follows the
index build's threads). The dense half's floor (``bot.ranking.MIN_DENSE``, 0.30) is
compared with the int8 cosine, so a paper right at the floor may come or go; that only
adds or drops a paper near the end of the fused list. A topic's threshold is a fixed
cosine that decides what is posted, so topics and ``similar``
embed their text in float32 as the papers are (:meth:`SearchIndex.embed_text`). Without
onnxruntime (or if the graph cannot be built) :func:`build` returns None and queries go
through numpy as before.
"""

from __future__ import annotations

import logging
import math
from itertools import count
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

OPSET = 20  # LayerNormalization (17) and Gelu's tanh form (20)
HEADS, HEAD_SIZE = 12, 32


class BertWeights(Protocol):
    """The float32 arrays of :class:`bot.embeddings.MiniLMEncoder` the graph is made of:
    its six layers (the embedding lookup stays in numpy)."""

    layers: list[tuple]


class QueryModel:
    """One onnxruntime session of the int8 layers: the embedded tokens in (numpy looks them
    up: the 47 MB word table stays numpy's, not copied into the session), the mean-pooled
    vector out."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def pooled(self, embedded: np.ndarray) -> np.ndarray:
        """The mean of the last layer over the tokens (not yet normalised); thread-safe.
        ``embedded``: the tokens' embeddings after the first layer norm, ``[L, 384]``."""
        return self.session.run(None, {"x": np.ascontiguousarray(embedded, np.float32)})[0]


def build(encoder: BertWeights) -> QueryModel | None:
    """The int8 query model for ``encoder``'s weights, or None (with a log line) when
    onnxruntime is missing or refuses the graph: the numpy path then encodes queries."""
    try:
        import onnxruntime as ort

        model = _graph(encoder)
        options = ort.SessionOptions()
        # One thread: a search runs beside others and beside the BM25 half of itself.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # a query's tensors are small; no held arena
        session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ImportError, onnxruntime's own errors: numpy still works
        log.warning("query encoding stays in numpy (int8 model unavailable: %s)", exc)
        return None
    return QueryModel(session)


def quantize_columns(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``weight`` (in x out) as int8 and one float32 scale per output column, symmetric:
    ``weight ~= q * scale``, the largest magnitude of each column mapped to 127."""
    scale = np.abs(weight).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    return q, scale


def _graph(encoder: BertWeights) -> Any:
    """The six layers of :meth:`MiniLMEncoder._forward` as an ONNX model: one unpadded
    text's embedded tokens ``[L, 384]`` in, the mean over tokens ``[384]`` out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    initializers: list[Any] = []
    nodes: list[Any] = []
    names = count()

    def const(array: np.ndarray) -> str:
        name = f"c{next(names)}"
        initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op: str, inputs: list[str], **attributes: Any) -> str:
        out = f"t{next(names)}"
        nodes.append(helper.make_node(op, inputs, [out], **attributes))
        return out

    def linear(x: str, weight: np.ndarray, bias: np.ndarray) -> str:
        """``x @ weight + bias`` with int8 weights and ``x`` quantized as it comes."""
        q, scale = quantize_columns(weight)
        x_q = f"t{next(names)}"
        x_scale, x_zero = f"t{next(names)}", f"t{next(names)}"
        nodes.append(helper.make_node("DynamicQuantizeLinear", [x], [x_q, x_scale, x_zero]))
        product = node("MatMulInteger", [x_q, const(q), x_zero])
        scaled = node("Mul", [node("Cast", [product], to=TensorProto.FLOAT), x_scale])
        return node("Add", [node("Mul", [scaled, const(scale)]), const(bias)])

    def layer_norm(x: str, weight_bias: tuple[np.ndarray, np.ndarray]) -> str:
        weight, bias = weight_bias
        return node("LayerNormalization", [x, const(weight), const(bias)], axis=-1, epsilon=1e-12)

    zero, one, two = (const(np.array(n, dtype=np.int64)) for n in (0, 1, 2))
    first_axis = const(np.array([0], dtype=np.int64))
    x = "x"  # the embedded tokens, looked up and normalised by numpy
    per_head = const(np.array([-1, 3, HEADS, HEAD_SIZE], dtype=np.int64))
    joined = const(np.array([-1, HEADS * HEAD_SIZE], dtype=np.int64))
    scale = const(np.array(1.0 / math.sqrt(HEAD_SIZE), dtype=np.float32))
    for qkv_w, qkv_b, o_w, o_b, norm1, i_w, i_b, f_w, f_b, norm2 in encoder.layers:
        qkv = node("Reshape", [linear(x, qkv_w, qkv_b), per_head])
        qkv = node("Transpose", [qkv], perm=[1, 2, 0, 3])  # (3, heads, L, size)
        q, k, v = (node("Gather", [qkv, n], axis=0) for n in (zero, one, two))
        scores = node("MatMul", [q, node("Transpose", [k], perm=[0, 2, 1])])
        weights = node("Softmax", [node("Mul", [scores, scale])], axis=-1)
        context = node("Transpose", [node("MatMul", [weights, v])], perm=[1, 0, 2])
        context = node("Reshape", [context, joined])
        x = layer_norm(node("Add", [linear(context, o_w, o_b), x]), norm1)
        hidden = node("Gelu", [linear(x, i_w, i_b)], approximate="tanh")
        x = layer_norm(node("Add", [linear(hidden, f_w, f_b), x]), norm2)
    nodes.append(helper.make_node("ReduceMean", [x, first_axis], ["pooled"], keepdims=0))
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2-int8-query",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["L", HEADS * HEAD_SIZE])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [HEADS * HEAD_SIZE])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10  # what onnxruntime 1.2x reads
    onnx.checker.check_model(model)
    return model
