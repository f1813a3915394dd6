"""all-MiniLM-L6-v2 as an ONNX graph built from its safetensors weights, optionally int8-quantized, cached on disk.

Why: on these 2-core machines the TensorFlow graph of the same forward pass costs ~10 ms a sentence even
for three tokens (op dispatch), ONNX Runtime runs it in ~5 ms (fp32) or ~2-3 ms (int8 weights, per-channel,
AVX512-VNNI). There is no model hub and no torch in the rasa environment, so the graph is written here with
`onnx.helper` (a plain BERT encoder: embeddings, 6 post-norm layers, exact GELU) followed by the
sentence-transformers pooling (mask-weighted mean, L2 normalisation). tests/bot/test_nlu_components.py
checks it against the TensorFlow model from `transformers`.

The built files live in a cache folder (``ENCODER_CACHE_DIR``, default ``var/cache/encoder``) under a name
that changes with the weights, the builder version and the precision, so a new package version or a change
here rebuilds them; building takes a few seconds, once per machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np

BUILDER_VERSION = 1
ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = ("fp32", "int8")


def cache_dir() -> Path:
    """Where built encoders are kept (``ENCODER_CACHE_DIR`` or ``var/cache/encoder`` in the project)."""
    return Path(os.environ.get("ENCODER_CACHE_DIR") or ROOT / "var" / "cache" / "encoder")


def _fingerprint(model_dir: Path) -> str:
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    config = (model_dir / "config.json").read_bytes()
    key = f"{BUILDER_VERSION}|{stat.st_size}|{int(stat.st_mtime)}|".encode() + config
    return hashlib.sha256(key).hexdigest()[:16]


def encoder_path(model_dir: str | Path, precision: str = "int8") -> Path:
    """The ONNX file for ``model_dir`` at ``precision``, built (and cached) on first use.

    Args:
        model_dir: a BERT-style sentence-transformers folder (config.json, model.safetensors).
        precision: ``"fp32"`` (exact) or ``"int8"`` (dynamically quantized weights, per output channel).

    Returns:
        The path of a ready ONNX model with inputs ``input_ids``, ``attention_mask`` (int64, batch x tokens)
        and output ``embedding`` (float32, batch x hidden, unit length).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    model_dir = Path(model_dir)
    stem = cache_dir() / f"minilm-{_fingerprint(model_dir)}"
    target = stem.with_name(f"{stem.name}-{precision}.onnx")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = stem.with_name(f"{stem.name}-fp32.onnx")
    if not fp32.exists():
        _atomic_write(fp32, lambda tmp: _save(build_graph(model_dir), tmp))
    if precision == "int8":
        _atomic_write(target, lambda tmp: _quantize(fp32, tmp))
    return target


def _atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    # Two processes may build at once (a bench and a server): each writes its own temporary file and the
    # rename makes whichever finishes last the one that stays; readers never see half a file.
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    os.close(fd)
    try:
        write(Path(name))
        os.chmod(name, 0o644)  # mkstemp makes it owner-only; the model is not a secret
        os.replace(name, target)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def _save(model: Any, path: Path) -> None:
    import onnx

    onnx.save(model, str(path))


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel int8 weights keep sentence vectors at cosine >= 0.98 (mean 0.993) of fp32 on the held-out
    # messages; per-tensor scales fell to 0.92. The quantizer's advice to run its pre-processing is noise here.
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    quantize_dynamic(str(source), str(target), per_channel=True, weight_type=QuantType.QInt8)


def build_graph(model_dir: str | Path, head: Dict[str, np.ndarray] | None = None) -> Any:
    """An ONNX ``ModelProto`` of the BERT encoder in ``model_dir`` plus mean pooling and L2 normalisation.

    With ``head`` (``weight`` (classes, hidden), ``bias`` (classes,), a fine-tuned intent head from
    nlu_train), the graph also outputs ``logits`` = embedding @ weight.T + bias (batch x classes).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    model_dir = Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ValueError(f"{model_dir} is not a BERT model with exact GELU; this builder only writes that graph")
    weights: Dict[str, np.ndarray] = load_file(str(model_dir / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))

    initializers: List[Any] = []
    nodes: List[Any] = []
    names: set[str] = set()

    def const(name: str, value: Any, dtype: Any = None) -> str:
        if name not in names:
            names.add(name)
            initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(name: str) -> str:
        return const(name, weights[prefix + name])

    def node(op: str, inputs: List[str], **attrs: Any) -> str:
        out = f"{op.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def layer_norm(x: str, name: str) -> str:
        return node("LayerNormalization", [x, weight(f"{name}.weight"), weight(f"{name}.bias")], epsilon=eps, axis=-1)

    def linear(x: str, name: str) -> str:
        # safetensors holds PyTorch's (out, in) matrices; MatMul wants (in, out)
        w = const(f"{name}.weight.T", np.ascontiguousarray(weights[prefix + name + ".weight"].T))
        return node("Add", [node("MatMul", [x, w]), weight(f"{name}.bias")])

    one_f = const("one_f", 1.0, np.float32)
    positions = node(
        "Range",
        [
            const("zero_i", 0, np.int64),
            node("Gather", [node("Shape", ["input_ids"]), const("one_i", 1, np.int64)]),
            const("one_step", 1, np.int64),
        ],
    )
    token_type = const("token_type_0", weights[prefix + "embeddings.token_type_embeddings.weight"][0])
    x = node(
        "Add",
        [
            node(
                "Add",
                [
                    node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"]),
                    node("Gather", [weight("embeddings.position_embeddings.weight"), positions]),
                ],
            ),
            token_type,
        ],
    )
    x = layer_norm(x, "embeddings.LayerNorm")

    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    # padding gets -1e9 before the softmax: exactly zero attention after it
    attention_bias = node(
        "Unsqueeze",
        [
            node("Mul", [node("Sub", [one_f, mask]), const("minus_big", -1e9, np.float32)]),
            const("axes_12", [1, 2], np.int64),
        ],
    )
    split_heads = const("split_heads", [0, 0, heads, head_dim], np.int64)
    merge_heads = const("merge_heads", [0, 0, hidden], np.int64)
    scale = const("scale", 1.0 / np.sqrt(head_dim), np.float32)

    for i in range(int(config["num_hidden_layers"])):
        layer = f"encoder.layer.{i}"

        def heads_of(x: str, name: str, perm: List[int]) -> str:
            projected = linear(x, name)
            return node("Transpose", [node("Reshape", [projected, split_heads])], perm=perm)

        query = heads_of(x, f"{layer}.attention.self.query", [0, 2, 1, 3])
        key = heads_of(x, f"{layer}.attention.self.key", [0, 2, 3, 1])  # already transposed for q @ k
        value = heads_of(x, f"{layer}.attention.self.value", [0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [query, key]), scale]), attention_bias])
        context = node("MatMul", [node("Softmax", [scores], axis=-1), value])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = node("Add", [linear(context, f"{layer}.attention.output.dense"), x])
        x = layer_norm(attended, f"{layer}.attention.output.LayerNorm")
        h = linear(x, f"{layer}.intermediate.dense")
        # exact GELU, as BERT: 0.5 * h * (1 + erf(h / sqrt 2))
        erf = node("Erf", [node("Div", [h, const("sqrt2", np.sqrt(2.0), np.float32)])])
        h = node("Mul", [node("Mul", [h, const("half", 0.5, np.float32)]), node("Add", [erf, one_f])])
        x = layer_norm(node("Add", [linear(h, f"{layer}.output.dense"), x]), f"{layer}.output.LayerNorm")

    mask3 = node("Unsqueeze", [mask, const("axis_2", [2], np.int64)])
    axis_1 = const("axis_1", [1], np.int64)
    summed = node("ReduceSum", [node("Mul", [x, mask3]), axis_1], keepdims=0)
    count = node("Max", [node("ReduceSum", [mask3, axis_1], keepdims=0), const("tiny", 1e-9, np.float32)])
    pooled = node("Div", [summed, count])
    nodes.append(helper.make_node("LpNormalization", [pooled], ["embedding"], name="normalise", axis=1, p=2))
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])]
    if head is not None:
        w = const("head.weight.T", np.ascontiguousarray(np.asarray(head["weight"], dtype=np.float32).T))
        b = const("head.bias", np.asarray(head["bias"], dtype=np.float32))
        nodes.append(helper.make_node("Gemm", ["embedding", w, b], ["logits"], name="head"))
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(head["bias"])]))

    graph = helper.make_graph(
        nodes,
        "sentence_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="shop-assistant")
    model.ir_version = 8  # what onnxruntime 1.20 reads
    onnx.checker.check_model(model)
    return model


def build_files(model_dir: str | Path, out_dir: Path, with_head: bool = False) -> Dict[str, Path]:
    """Build ``model_dir``'s graph into ``out_dir`` (not the shared cache): ``fp32.onnx`` and ``int8.onnx``.

    Used for fine-tuned encoders, which live inside a trained rasa model rather than in ``cache_dir()``.
    With ``with_head``, ``model_dir/head.safetensors`` becomes the ``logits`` output.
    """
    from safetensors.numpy import load_file

    head = load_file(str(Path(model_dir) / "head.safetensors")) if with_head else None
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / "fp32.onnx", out_dir / "int8.onnx"
    _save(build_graph(model_dir, head), fp32)
    _quantize(fp32, int8)
    return {"fp32": fp32, "int8": int8}


def session(path: Path, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session for ``path`` with ``threads`` intra-op threads and full graph optimisation."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
