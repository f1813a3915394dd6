"""all-MiniLM-L6-v2 (a BERT encoder) in plain torch, loaded from and saved to its safetensors names.

Written out rather than taken from `transformers` so that the math is the one bot/minilm_onnx.py turns into
ONNX (post-norm layers, exact GELU, masked mean pooling, L2 normalisation), layers can be frozen and their
outputs cached, and nothing depends on the attention-mask API of one `transformers` release.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Tuple

import torch
from torch import nn


class Layer(nn.Module):
    """One post-norm BERT layer."""

    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.out = nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """`x` (batch, tokens, hidden); `bias` (batch, 1, 1, tokens): 0 for tokens, -1e9 for padding."""
        b, t, h = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, h // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.attention_norm(self.attention_out(context) + x)
        return self.out_norm(self.out(nn.functional.gelu(self.intermediate(x))) + x)


class Encoder(nn.Module):
    """Embeddings, BERT layers, masked mean pooling and L2 normalisation (the sentence-transformers model)."""

    def __init__(self, config: Dict) -> None:
        super().__init__()
        hidden = int(config["hidden_size"])
        eps = float(config.get("layer_norm_eps", 1e-12))
        self.config = config
        self.word = nn.Embedding(int(config["vocab_size"]), hidden)
        self.position = nn.Embedding(int(config["max_position_embeddings"]), hidden)
        self.token_type = nn.Embedding(int(config.get("type_vocab_size", 2)), hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            Layer(hidden, int(config["num_attention_heads"]), int(config["intermediate_size"]), eps)
            for _ in range(int(config["num_hidden_layers"]))
        )

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token + position + token-type-0 embeddings, normalised."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.embedding_norm(self.word(ids) + self.position(positions)[None] + self.token_type.weight[0])

    @staticmethod
    def bias(mask: torch.Tensor) -> torch.Tensor:
        """Additive attention bias from a (batch, tokens) 0/1 mask."""
        return ((1.0 - mask.float()) * -1e9)[:, None, None, :]

    def run_layers(self, x: torch.Tensor, mask: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Hidden states after layers [start, stop)."""
        bias = self.bias(mask)
        for layer in self.layers[start:stop]:
            x = layer(x, bias)
        return x

    @staticmethod
    def pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean over tokens, L2-normalised: the sentence vector."""
        m = mask.float().unsqueeze(-1)
        mean = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(mean, dim=-1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sentence vectors (batch, hidden)."""
        return self.pool(self.run_layers(self.embed(ids), mask), mask)


# our parameter name -> safetensors name (without the optional "bert." prefix)
def _names(n_layers: int) -> List[Tuple[str, str]]:
    pairs = [
        ("word.weight", "embeddings.word_embeddings.weight"),
        ("position.weight", "embeddings.position_embeddings.weight"),
        ("token_type.weight", "embeddings.token_type_embeddings.weight"),
        ("embedding_norm.weight", "embeddings.LayerNorm.weight"),
        ("embedding_norm.bias", "embeddings.LayerNorm.bias"),
    ]
    parts = {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "attention_out": "attention.output.dense",
        "attention_norm": "attention.output.LayerNorm",
        "intermediate": "intermediate.dense",
        "out": "output.dense",
        "out_norm": "output.LayerNorm",
    }
    for i in range(n_layers):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                pairs.append((f"layers.{i}.{ours}.{p}", f"encoder.layer.{i}.{theirs}.{p}"))
    return pairs


def load_encoder(model_dir: Path) -> Encoder:
    """The encoder with the weights of a sentence-transformers BERT folder."""
    from safetensors.torch import load_file

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ValueError(f"{model_dir} is not a BERT model with exact GELU")
    weights = load_file(str(model_dir / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
    encoder = Encoder(config)
    state = {ours: weights[prefix + theirs] for ours, theirs in _names(len(encoder.layers))}
    encoder.load_state_dict(state)
    return encoder


def encoder_tensors(encoder: Encoder) -> Dict[str, torch.Tensor]:
    """The encoder's weights under the safetensors names bot/minilm_onnx.py reads."""
    state = encoder.state_dict()
    return {theirs: state[ours].detach().contiguous() for ours, theirs in _names(len(encoder.layers))}
