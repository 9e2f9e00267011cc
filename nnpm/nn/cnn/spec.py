"""The CNN families of MwT as declarative plans, in plain Python (no torch).

Every family (vgg16, resnet18, simcnn, rescnn) is a list of ops over tensors: convs
(3x3 or 1x1, conv -> BatchNorm -> optional gate -> optional ReLU), max-pools and residual
adds, followed by a global average pool and a fully connected head. The plan, the
width multiplier and `architecture.retained` (kept kernel indices per conv, and kept
neurons per hidden FC layer under "fc.0", "fc.1", ...) fix every tensor shape, so publish and install can check a module's weights without
importing torch, and the torch builder, the pruner and the extractor all read the same
channel sets from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnpm.errors import ArchitectureError
from nnpm.package.families import Family

FAMILY_NAMES = ("vgg16", "resnet18", "simcnn", "rescnn")


@dataclass(frozen=True)
class Conv:
    """A conv -> BN -> [gate] -> [ReLU] layer reading tensor `src` (index into the op list)."""

    name: str
    src: int
    base: int
    stride: int = 1
    kernel: int = 3
    relu: bool = True


@dataclass(frozen=True)
class Pool:
    src: int


@dataclass(frozen=True)
class Add:
    """Residual addition of two tensors, then ReLU; keeps the union of both channel sets."""

    a: int
    b: int


Op = Conv | Pool | Add


@dataclass(frozen=True)
class Layout:
    """A resolved plan: ops, each op's channel set (indices into the full model's channels),
    spatial size per op, which pools are active, and the head's widths."""

    ops: tuple[Op, ...]
    channels: tuple[tuple[int, ...], ...]
    sizes: tuple[int, ...]
    full_width: dict[str, int]
    gated: tuple[str, ...]
    head: tuple[int, ...]
    num_classes: int
    in_channels: int
    head_kept: tuple[tuple[int, ...], ...] = ()  # kept neurons of each hidden FC layer (default: all)

    def hidden_kept(self) -> tuple[tuple[int, ...], ...]:
        return self.head_kept or tuple(tuple(range(w)) for w in self.head)


def fc_name(j: int) -> str:
    """The `retained` key of hidden FC layer j (its output neurons): "fc.0", "fc.1", ..."""
    return f"fc.{j}"


# --- plans ------------------------------------------------------------------------------------


class _Builder:
    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.last = -1  # -1 is the network input

    def conv(
        self, base: int, stride: int = 1, kernel: int = 3, relu: bool = True, src: int | None = None
    ) -> int:
        name = f"conv{sum(isinstance(o, Conv) for o in self.ops)}"
        self.ops.append(Conv(name, self.last if src is None else src, base, stride, kernel, relu))
        self.last = len(self.ops) - 1
        return self.last

    def pool(self) -> int:
        self.ops.append(Pool(self.last))
        self.last = len(self.ops) - 1
        return self.last

    def add(self, a: int, b: int) -> int:
        self.ops.append(Add(a, b))
        self.last = len(self.ops) - 1
        return self.last


def _sequential(cfg: list) -> _Builder:
    b = _Builder()
    for item in cfg:
        b.pool() if item == "M" else b.conv(item)
    return b


def _plan_vgg16() -> tuple[list[Op], tuple[int, ...]]:
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    return _sequential(cfg).ops, ()


def _plan_simcnn() -> tuple[list[Op], tuple[int, ...]]:
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    return _sequential(cfg).ops, (512, 512)


def _basic_block(b: _Builder, base: int, stride: int, project: bool) -> None:
    x = b.last
    b.conv(base, stride)
    main = b.conv(base, relu=False)
    short = b.conv(base, stride, kernel=1, relu=False, src=x) if project else x
    b.add(main, short)


def _plan_resnet18() -> tuple[list[Op], tuple[int, ...]]:
    b = _Builder()
    b.conv(64)
    in_base = 64
    for base, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        _basic_block(b, base, stride, project=stride != 1 or in_base != base)
        _basic_block(b, base, 1, project=False)
        in_base = base
    return b.ops, ()


def _plan_rescnn() -> tuple[list[Op], tuple[int, ...]]:
    """12 convs, three identity residual blocks (the CNNSplitter/MwT ResCNN shape)."""
    b = _Builder()
    b.conv(64)
    b.conv(128)
    b.pool()
    for base in (128, 256, 512):
        if base != 128:
            b.conv(base)
            b.pool()
        x = b.last
        b.conv(base)
        main = b.conv(base, relu=False)
        b.add(main, x)
    b.conv(512)
    b.conv(512)
    b.pool()
    return b.ops, ()


_PLANS = {"vgg16": _plan_vgg16, "resnet18": _plan_resnet18, "simcnn": _plan_simcnn, "rescnn": _plan_rescnn}


# --- resolving a spec ---------------------------------------------------------------------------


def scaled(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


def generator_hidden(c_out: int) -> int:
    """d = C_out if C_out < 128 else C_out / 2 (science.md, from the full model's width)."""
    return c_out if c_out < 128 else c_out // 2


GENERATORS = ("relu", "leaky")  # MwT's mask generator, and the repaired one (leaky hidden units)


def generator_kind(arch) -> str:
    """params.generator: which mask generator a gated network uses (default MwT's, "relu")."""
    kind = arch.params.get("generator", "relu")
    if kind not in GENERATORS:
        raise ArchitectureError(
            f"architecture.params.generator must be one of {', '.join(GENERATORS)}, got {kind!r}"
        )
    return kind


def _params(arch) -> dict:
    p = dict(arch.params)
    for key in ("num_classes", "width"):
        if key not in p:
            raise ArchitectureError(f"architecture.params.{key} is required by family {arch.family!r}")
    return p


def input_size(arch) -> int:
    """Spatial size the first conv sees, after optional resize or padding."""
    p = arch.params
    size = int(arch.input.shape[-1])
    if int(p.get("resize", 0)):
        size = int(p["resize"])
    return size + 2 * int(p.get("pad", 0))


def layout(arch) -> Layout:
    """Resolve a family spec into ops, channel sets and sizes."""
    if arch.family not in _PLANS:
        raise ArchitectureError(f"unknown CNN family {arch.family!r} (known: {', '.join(FAMILY_NAMES)})")
    p = _params(arch)
    generator_kind(arch)
    width = float(p["width"])
    if not 0 < width <= 8:
        raise ArchitectureError(f"architecture.params.width must be in (0, 8], got {width}")
    ops, head = _PLANS[arch.family]()
    retained = {k: tuple(int(i) for i in v) for k, v in arch.retained.items()}
    gated_flag = bool(p.get("gated", False))
    in_ch = int(arch.input.shape[0])
    first = next(o.name for o in ops if isinstance(o, Conv))
    full_width: dict[str, int] = {}
    channels: list[tuple[int, ...]] = []
    sizes: list[int] = []
    size = input_size(arch)

    def chan(i: int) -> tuple[int, ...]:
        return tuple(range(in_ch)) if i < 0 else channels[i]

    def spatial(i: int) -> int:
        return input_size(arch) if i < 0 else sizes[i]

    for op in ops:
        if isinstance(op, Conv):
            full_width[op.name] = scaled(op.base, width)
            kept = retained.get(op.name, tuple(range(full_width[op.name])))
            if any(k >= full_width[op.name] for k in kept) or not kept:
                raise ArchitectureError(
                    f"architecture.retained.{op.name} does not fit width {full_width[op.name]}"
                )
            channels.append(tuple(kept))
            size = (spatial(op.src) + 2 * (op.kernel // 2) - op.kernel) // op.stride + 1
        elif isinstance(op, Pool):
            channels.append(chan(op.src))
            size = spatial(op.src) // 2 if spatial(op.src) >= 2 else spatial(op.src)
        else:
            channels.append(tuple(sorted(set(chan(op.a)) | set(chan(op.b)))))
            size = spatial(op.a)
        sizes.append(size)
    gated = tuple(o.name for o in ops if isinstance(o, Conv) and o.name != first) if gated_flag else ()
    head_widths = tuple(scaled(h, width) for h in head)
    head_kept = []
    for j, w in enumerate(head_widths):
        full_width[fc_name(j)] = w
        kept = retained.get(fc_name(j), tuple(range(w)))
        if not kept or any(not 0 <= k < w for k in kept):
            raise ArchitectureError(f"architecture.retained.{fc_name(j)} does not fit width {w}")
        head_kept.append(tuple(kept))
    unknown = set(retained) - set(full_width)
    if unknown:
        raise ArchitectureError(f"architecture.retained names unknown layers: {', '.join(sorted(unknown))}")
    return Layout(
        tuple(ops),
        tuple(channels),
        tuple(sizes),
        full_width,
        gated,
        head_widths,
        int(p["num_classes"]),
        in_ch,
        tuple(head_kept),
    )


def conv_input(lay: Layout, op: Conv) -> tuple[int, ...]:
    return tuple(range(lay.in_channels)) if op.src < 0 else lay.channels[op.src]


def fc_widths(lay: Layout) -> list[int]:
    """Input width of the FC head, then each (kept) hidden layer's, then the classes."""
    return [len(lay.channels[-1]), *(len(k) for k in lay.hidden_kept()), lay.num_classes]


def unit_layers(lay: Layout) -> tuple[str, ...]:
    """The layers whose units MODA regulates and prunes: every ReLU'd conv, then each hidden FC layer."""
    convs = tuple(o.name for o in lay.ops if isinstance(o, Conv) and o.relu)
    return convs + tuple(fc_name(j) for j in range(len(lay.head)))


def multiply_adds(lay: Layout) -> dict[str, int]:
    """Multiply-adds per image of every conv (by name) and FC layer ("fc.j", the output "fc.out").

    A pruned layout counts its kept channels, so this is the arithmetic a module or a union runs;
    the forward's cost follows it, where the parameter count does not (early convs are few
    parameters at high resolution).
    """
    macs = {
        op.name: len(lay.channels[i]) * len(conv_input(lay, op)) * op.kernel**2 * lay.sizes[i] ** 2
        for i, op in enumerate(lay.ops)
        if isinstance(op, Conv)
    }
    widths = fc_widths(lay)
    for j in range(len(widths) - 1):
        macs[fc_name(j) if j < len(widths) - 2 else "fc.out"] = widths[j] * widths[j + 1]
    return macs


def unit_total(lay: Layout) -> int:
    """All of the full model's MODA units (ReLU'd conv channels and hidden FC neurons)."""
    return sum(lay.full_width[name] for name in unit_layers(lay))


def maskable_total(lay: Layout) -> int:
    """All maskable kernels of the full model (every gated conv, first conv excluded)."""
    return sum(lay.full_width[name] for name in lay.gated)


def cnn_shapes(arch) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} of the state dict the spec builds (full or pruned)."""
    lay = layout(arch)
    shapes: dict[str, tuple[int, ...]] = {}
    for i, op in enumerate(lay.ops):
        if not isinstance(op, Conv):
            continue
        c_in, c_out = len(conv_input(lay, op)), len(lay.channels[i])
        pre = f"convs.{op.name}"
        shapes[f"{pre}.conv.weight"] = (c_out, c_in, op.kernel, op.kernel)
        for t in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{pre}.bn.{t}"] = (c_out,)
        shapes[f"{pre}.bn.num_batches_tracked"] = ()
        if op.name in lay.gated:
            d = generator_hidden(lay.full_width[op.name])
            shapes[f"{pre}.gen.w1.weight"] = (d, c_in)
            shapes[f"{pre}.gen.w2.weight"] = (c_out, d)
            shapes[f"{pre}.gen.w2.bias"] = (c_out,)
    widths = fc_widths(lay)
    for j, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        shapes[f"fc.{j}.weight"] = (b, a)
        shapes[f"fc.{j}.bias"] = (b,)
    return shapes


_DESCRIPTIONS = {
    "vgg16": "VGG16 with BatchNorm (13 convs, 5 max-pools), global average pool, linear head",
    "resnet18": "ResNet18 with BasicBlocks (CIFAR stem), global average pool, linear head",
    "simcnn": "SimCNN: 13 convs 64,64,128,128,256x3,512x6 with max-pools, FC 512-512-classes",
    "rescnn": "ResCNN: 12 convs with three identity residual adds, global average pool, linear head",
}
_COMMON = (
    "; params: num_classes, width (multiplier), gated (MwT mask generators), generator (relu | leaky), "
    "pad, resize, "
    "output (logits | logprob), classes, temperature; retained: kept kernels per conv and "
    "kept neurons per hidden FC layer (fc.0, ...)"
)


def _family(name: str) -> Family:
    return Family(
        name=name,
        description=_DESCRIPTIONS[name] + _COMMON,
        shapes=cnn_shapes,
        builder="nnpm.nn.cnn.model:build_cnn",
        fuser="nnpm.nn.cnn.fuse:fuse",
    )


#: The entry points of group `nnpm.families` (pyproject.toml) name these.
VGG16, RESNET18, SIMCNN, RESCNN = (_family(n) for n in FAMILY_NAMES)

__all__ = [
    "FAMILY_NAMES",
    "RESCNN",
    "RESNET18",
    "SIMCNN",
    "VGG16",
    "Layout",
    "cnn_shapes",
    "conv_input",
    "fc_name",
    "fc_widths",
    "layout",
    "maskable_total",
    "unit_layers",
    "unit_total",
]
