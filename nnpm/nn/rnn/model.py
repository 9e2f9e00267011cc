"""torch side of the RNN families: stacks of torch's own cells, and our step-by-step reference forward.

Networks run torch's nn.RNN / nn.LSTM / nn.GRU (one module per layer, so layers may differ in
size). `manual_stack` re-implements the same equations with torch's gate order (LSTM i, f, g, o;
GRU r, z, n with the reset gate applied to (W_hn h + b_hn), i.e. after the matrix product) and
optional per-step unit masks; it serves unrolled decomposition and is tested against torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nnpm.errors import ArchitectureError
from nnpm.nn.rnn.spec import gates
from nnpm.package.families import param

_TORCH_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Stack(nn.Module):
    """Single-layer torch RNNs stacked; forward returns every layer's outputs and final states."""

    def __init__(self, cell: str, input_size: int, sizes: Sequence[int]) -> None:
        super().__init__()
        gates(cell)
        self.cell = cell
        self.sizes = [int(s) for s in sizes]
        ins = [int(input_size), *self.sizes[:-1]]
        self.layers = nn.ModuleList(
            _TORCH_CELLS[cell](i, h, batch_first=True) for i, h in zip(ins, self.sizes, strict=True)
        )

    def forward(self, x: torch.Tensor, init: list | None = None) -> tuple[list[torch.Tensor], list]:
        outputs, finals = [], []
        for i, layer in enumerate(self.layers):
            state = None if init is None else init[i]
            x, final = layer(x, state)
            outputs.append(x)
            finals.append(final)
        return outputs, finals


class Embedding(nn.Module):
    """The embedding package's network: token ids -> vectors; carries its vocabulary (tokens)."""

    def __init__(self, vocab_size: int, dim: int, tokens: Sequence[str] = ()) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.tokens = tuple(tokens)

    @property
    def weight(self) -> torch.Tensor:
        return self.embedding.weight

    def state_dict(self, *args, **kwargs):  # the package's tensor is plain "weight"
        return {"weight": self.embedding.weight.detach()}

    def load_state_dict(self, state, strict: bool = True, assign: bool = False):
        return self.embedding.load_state_dict({"weight": state["weight"]}, strict=strict, assign=assign)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids)


def _hold(module: nn.Module, name: str, value: nn.Module) -> None:
    """Keep a dependency's network by reference, outside state_dict: its tensors belong to its own package."""
    object.__setattr__(module, name, value)


class SequenceNet(nn.Module):
    """Embedding -> stack -> linear head, at the last real token (classify) or every token (tag).

    output "logits": a model's scores over all classes. output "log-positive": a module's
    calibrated log p(positive) per class it keeps, logsigmoid of its head.
    """

    def __init__(self, embedding: Embedding, cell: str, sizes, num_outputs: int, per_step: bool, output: str):
        super().__init__()
        _hold(self, "embedding", embedding)
        self.rnn = Stack(cell, embedding.weight.shape[1], sizes)
        self.head = nn.Linear(self.rnn.sizes[-1], int(num_outputs))
        self.per_step = per_step
        self.output = output

    def features(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's hidden outputs [B, T, H_l] (padding positions included; callers mask them)."""
        return self.rnn(self.embedding(tokens))[0]

    def readout(self, last: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Head on the last layer's outputs, at every step or at each sequence's last real token."""
        if not self.per_step:
            lengths = (tokens != 0).sum(1).clamp_min(1)
            last = last[torch.arange(last.shape[0]), lengths - 1]
        scores = self.head(last)
        return nn.functional.logsigmoid(scores) if self.output == "log-positive" else scores

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(tokens)[-1], tokens)


class Seq2SeqNet(nn.Module):
    """Encoder-decoder on one shared embedding; the decoder starts from the encoder's final state
    (sliced to the decoder's retained units) and from a language token that picks the target."""

    def __init__(self, embedding: Embedding, cell: str, enc, dec, num_outputs: int, languages, language_tokens,
                 retained: dict | None = None, output: str = "logits"):  # fmt: skip
        super().__init__()
        _hold(self, "embedding", embedding)
        dim = embedding.weight.shape[1]
        self.encoder = Stack(cell, dim, enc)
        self.decoder = Stack(cell, dim, dec)
        self.head = nn.Linear(self.decoder.sizes[-1], int(num_outputs))
        self.languages = tuple(languages)
        self.language_tokens = tuple(language_tokens)
        self.output = output
        for i, size in enumerate(self.decoder.sizes):
            keep = (retained or {}).get(f"decoder.{i}", range(self.encoder.sizes[i]))
            keep = torch.tensor(list(keep), dtype=torch.int64)
            if len(keep) != size:
                raise ArchitectureError(f"retained decoder.{i} lists {len(keep)} units, the layer has {size}")
            self.register_buffer(f"bridge_{i}", keep, persistent=False)

    def encode(self, src: torch.Tensor) -> list:
        """Final encoder state per layer at each source's last real token (packed sequences), sliced to
        the decoder's retained units: a removed decoder unit starts from 0, as if it had been zeroed."""
        lengths = (src != 0).sum(1).clamp_min(1).cpu()
        x = nn.utils.rnn.pack_padded_sequence(
            self.embedding(src), lengths, batch_first=True, enforce_sorted=False
        )
        states = []
        for i, layer in enumerate(self.encoder.layers):
            x, final = layer(x)
            keep = getattr(self, f"bridge_{i}")
            if isinstance(final, tuple):
                states.append(tuple(f[:, :, keep].contiguous() for f in final))
            else:
                states.append(final[:, :, keep].contiguous())
        return states

    def decode_step_scores(self, hidden: torch.Tensor) -> torch.Tensor:
        scores = self.head(hidden)
        return torch.log_softmax(scores, -1) if self.output == "log-probs" else scores

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced scores [B, T, V]; tgt_in starts with the language token."""
        outputs, _ = self.decoder(self.embedding(tgt_in), self.encode(src))
        return self.decode_step_scores(outputs[-1])

    @torch.no_grad()
    def generate(self, src: torch.Tensor, language: str, max_len: int, eos_id: int) -> torch.Tensor:
        """Greedy decoding [B, <=max_len] for one target language (padding 0 after <eos>)."""
        if language not in self.languages:
            raise ArchitectureError(
                f"this network does not serve language {language!r} (it serves {self.languages})"
            )
        token = self.language_tokens[self.languages.index(language)]
        tok_id = self.embedding.tokens.index(token) if self.embedding.tokens else int(token)
        state = self.encode(src)
        inp = torch.full((src.shape[0], 1), tok_id, dtype=torch.int64)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        out = []
        for _ in range(max_len):
            x = self.embedding(inp)
            new_state = []
            for i, layer in enumerate(self.decoder.layers):
                x, s = layer(x, state[i])
                new_state.append(s)
            state = new_state
            nxt = self.head(x[:, -1]).argmax(-1)
            nxt = torch.where(done, torch.zeros_like(nxt), nxt)
            out.append(nxt)
            done |= nxt == eos_id
            if bool(done.all()):
                break
            inp = nxt.unsqueeze(1)
        return torch.stack(out, 1)


# --- our reference forward (unrolled decomposition, and the equality test against torch) -------------


def layer_weights(layer: nn.Module) -> tuple[torch.Tensor, ...]:
    return layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0


def _step(cell: str, x_part: torch.Tensor, h: torch.Tensor, c, w_hh, b_hh, row_mask):
    """One time step. x_part = W_ih x + b_ih (precomputed for all steps). row_mask [G*H] zeroes the
    gate rows (weights and biases) of removed units; None keeps all."""
    gh = h @ w_hh.T + b_hh
    gi = x_part
    if row_mask is not None:
        gi, gh = gi * row_mask, gh * row_mask
    if cell == "rnn":
        return torch.tanh(gi + gh), None
    if cell == "lstm":
        i, f, g, o = (gi + gh).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    r_i, z_i, n_i = gi.chunk(3, -1)
    r_h, z_h, n_h = gh.chunk(3, -1)
    r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
    n = torch.tanh(n_i + r * n_h)  # reset gate after the recurrent product, as torch does
    return (1 - z) * n + z * h, None


def manual_layer(cell: str, layer: nn.Module, x: torch.Tensor, masks: torch.Tensor | None = None,
                 init=None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One layer over [B, T, I] -> (outputs [B, T, H], LSTM cell states [B, T, H] or zeros).

    masks [T, H] (1 keep, 0 remove) removes units per step as unrolled decomposition does: the
    unit's gate rows, its recurrent column and its output into the next layer are zeroed at that
    step only. Without masks this is torch's forward, step by step.
    """
    w_ih, w_hh, b_ih, b_hh = layer_weights(layer)
    batch, steps, _ = x.shape
    size = w_hh.shape[1]
    g = w_ih.shape[0] // size
    h = x.new_zeros(batch, size) if init is None else init[0]
    c = x.new_zeros(batch, size) if init is None else init[1]
    x_part = x @ w_ih.T + b_ih
    outs, cells = [], []
    for t in range(steps):
        m = None if masks is None else masks[t]
        row = None if m is None else m.repeat(g)
        h_in = h if m is None else h * m
        h, c_new = _step(cell, x_part[:, t], h_in, c, w_hh, b_hh, row)
        c = c_new if c_new is not None else c
        outs.append(h if m is None else h * m)
        cells.append(c)
    return torch.stack(outs, 1), torch.stack(cells, 1)


def manual_stack(
    stack: Stack, x: torch.Tensor, masks: Sequence[torch.Tensor] | None = None
) -> list[torch.Tensor]:
    """Every layer's outputs, computed by `manual_layer` (masks: one [T, H_l] per layer, or None)."""
    outputs = []
    for i, layer in enumerate(stack.layers):
        x, _ = manual_layer(stack.cell, layer, x, None if masks is None else masks[i])
        outputs.append(x)
    return outputs


# --- builders (families) ------------------------------------------------------------------------------


def _dependency_embedding(arch, context) -> Embedding:
    deps = getattr(context, "dependencies", None) or {}
    name = arch.vocabulary
    if name is None:
        raise ArchitectureError(
            f"family {arch.family!r} needs architecture.vocabulary (the embedding package)"
        )
    if name in deps:
        return deps[name]
    # Untrained placeholder of the right shape: lets shape checks build the network without the dependency.
    return Embedding(int(param(arch, "vocab_size", 2)), int(param(arch, "embedding_dim")))


def build_embedding(arch, context=None) -> Embedding:
    from nnpm.datasets.vocab import VOCAB_FILE, Vocab

    tokens: tuple[str, ...] = ()
    directory = getattr(context, "directory", None)
    if directory is not None and (directory / VOCAB_FILE).is_file():
        tokens = Vocab.load(directory / VOCAB_FILE).tokens
        if len(tokens) != int(param(arch, "vocab_size")):
            raise ArchitectureError(
                f"vocab.json holds {len(tokens)} tokens, vocab_size says {param(arch, 'vocab_size')}"
            )
    return Embedding(int(param(arch, "vocab_size")), int(param(arch, "dim")), tokens)


def build_sequence(arch, context=None) -> SequenceNet:
    return SequenceNet(
        _dependency_embedding(arch, context),
        param(arch, "cell"),
        [int(s) for s in param(arch, "hidden_sizes")],
        int(param(arch, "num_outputs")),
        per_step=arch.family == "rnn-tagger",
        output=param(arch, "output", "logits"),
    )


def build_seq2seq(arch, context=None) -> Seq2SeqNet:
    return Seq2SeqNet(
        _dependency_embedding(arch, context),
        param(arch, "cell"),
        [int(s) for s in param(arch, "encoder_sizes")],
        [int(s) for s in param(arch, "decoder_sizes")],
        int(param(arch, "num_outputs")),
        list(param(arch, "languages")),
        list(param(arch, "language_tokens")),
        retained={k: list(v) for k, v in arch.retained.items()},
        output=param(arch, "output", "logits"),
    )
