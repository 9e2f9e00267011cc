"""RNN architecture families, torch-free: publish and install import this to check weight shapes.

Every recurrent network is a stack of single-layer torch cells, so that each layer may have its
own hidden size (a pruned module is a smaller standard network). Tensor names are torch's own:
`rnn.layers.<i>.weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, then `head.weight`,
`head.bias`. The embedding is not among a model's tensors: it is a package of its own (family
"embedding", with vocab.json), named by architecture.vocabulary and passed in at build time.

params (rnn-classifier, rnn-tagger): cell ("rnn" | "lstm" | "gru"), embedding_dim, hidden_sizes
(one per layer), num_outputs, output ("logits" for a model, "log-positive" for a module).
params (rnn-seq2seq): cell, embedding_dim, encoder_sizes, decoder_sizes, num_outputs (the
vocabulary size), languages, language_tokens, output ("logits" | "log-probs").
"""

from __future__ import annotations

from nnpm.package.families import Family, param

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
CELLS = tuple(GATES)


def gates(cell: str) -> int:
    if cell not in GATES:
        raise ValueError(f"unknown cell {cell!r} (known: {', '.join(CELLS)})")
    return GATES[cell]


def stack_shapes(prefix: str, cell: str, input_size: int, sizes: list[int]) -> dict[str, tuple[int, ...]]:
    """Tensors of a stack of single-layer torch RNN/LSTM/GRU modules."""
    g, shapes, n_in = gates(cell), {}, int(input_size)
    for i, h in enumerate(int(s) for s in sizes):
        shapes[f"{prefix}.layers.{i}.weight_ih_l0"] = (g * h, n_in)
        shapes[f"{prefix}.layers.{i}.weight_hh_l0"] = (g * h, h)
        shapes[f"{prefix}.layers.{i}.bias_ih_l0"] = (g * h,)
        shapes[f"{prefix}.layers.{i}.bias_hh_l0"] = (g * h,)
        n_in = h
    return shapes


def embedding_shapes(arch) -> dict[str, tuple[int, ...]]:
    return {"weight": (int(param(arch, "vocab_size")), int(param(arch, "dim")))}


def sequence_shapes(arch) -> dict[str, tuple[int, ...]]:
    sizes = list(param(arch, "hidden_sizes"))
    if not sizes:
        raise ValueError("hidden_sizes is empty")
    shapes = stack_shapes("rnn", param(arch, "cell"), param(arch, "embedding_dim"), sizes)
    shapes["head.weight"] = (int(param(arch, "num_outputs")), int(sizes[-1]))
    shapes["head.bias"] = (int(param(arch, "num_outputs")),)
    return shapes


def seq2seq_shapes(arch) -> dict[str, tuple[int, ...]]:
    cell, dim = param(arch, "cell"), param(arch, "embedding_dim")
    enc, dec = list(param(arch, "encoder_sizes")), list(param(arch, "decoder_sizes"))
    if len(enc) != len(dec) or not enc:
        raise ValueError("encoder_sizes and decoder_sizes need the same, non-zero number of layers")
    shapes = {**stack_shapes("encoder", cell, dim, enc), **stack_shapes("decoder", cell, dim, dec)}
    shapes["head.weight"] = (int(param(arch, "num_outputs")), int(dec[-1]))
    shapes["head.bias"] = (int(param(arch, "num_outputs")),)
    return shapes


EMBEDDING = Family(
    name="embedding",
    description="token embedding with its vocabulary (vocab.json); params: vocab_size, dim",
    shapes=embedding_shapes,
    builder="nnpm.nn.rnn.model:build_embedding",
)
CLASSIFIER = Family(
    name="rnn-classifier",
    description="embedding -> RNN/LSTM/GRU stack -> linear at the last token (many-to-one)",
    shapes=sequence_shapes,
    builder="nnpm.nn.rnn.model:build_sequence",
)
TAGGER = Family(
    name="rnn-tagger",
    description="embedding -> RNN/LSTM/GRU stack -> linear at every token (many-to-many)",
    shapes=sequence_shapes,
    builder="nnpm.nn.rnn.model:build_sequence",
)
SEQ2SEQ = Family(
    name="rnn-seq2seq",
    description="embedding -> RNN encoder -> RNN decoder started by a language token -> linear (translation)",
    shapes=seq2seq_shapes,
    builder="nnpm.nn.rnn.model:build_seq2seq",
)
