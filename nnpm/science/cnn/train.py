"""Training the standard and the modular CNN with one recipe (SGD + Nesterov, cosine schedule).

The only difference between the runs is the loss: the MwT modular model adds
alpha * cohesion + beta * coupling over its gates; the MODA modular model (method "moda", a
standard network without gates) adds alpha * affinity + beta * dispersion + gamma * compactness
over its activations (nnpm.science.cnn.losses.moda_losses). Everything is batched tensors in
memory; progress goes to an optional reporter, never to print. A checkpoint (safetensors
+ a small JSON, no pickle) is written after every epoch so a run can be resumed, and a
seed makes the run repeatable.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from nnpm.datasets.splits import LabelledData, Split
from nnpm.errors import InvalidInputError
from nnpm.nn.cnn.model import CNN
from nnpm.progress import NULL, Progress
from nnpm.science.cnn.augment import augment
from nnpm.science.cnn.losses import COMPACTNESS, compactness_weights, moda_losses, mwt_losses


@dataclass(frozen=True)
class TrainConfig:
    """The recipe; defaults are MwT's except epochs (CPU budget) and weight decay (not stated there).

    generator_lr_scale multiplies the learning rate of the mask generators only. MwT uses one
    rate for all (1.0, the default). Gates start open and nearly parallel, where the cosine
    losses have almost no gradient; over MwT's 200 GPU epochs that does not matter, but in a
    CPU budget of tens of epochs a larger generator rate is what lets the gates specialise
    (docs/cnn.md measures it).

    method picks the modular objective: "mwt" (gates; alpha weighs cohesion, beta coupling),
    "mwt-repaired" (MwT with leaky generator units and gamma * mean gate, a sparsity term that
    closes the gates a class does not need on all of its samples, not on some: docs/cnn.md) or
    "moda" (activations; alpha weighs affinity, beta dispersion, gamma compactness). MwT
    ignores gamma. compactness says how MODA's compactness weighs its layers: "layers" (MODA's
    mean), "macs" or "cost" (by each layer's share of the multiply-adds, or of multiply-adds and
    parameters; losses.py says why). confusers (extraction, not training): how many look-alike
    classes' units a module may also keep, each only where it raises the module's validation AUC.
    mass (extraction, MODA only): a module keeps, of each conv layer's channels its class fires,
    only the fewest that carry this share of their mean activation on the class (1: MODA's
    rule as published; extract.heaviest_units says why).
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    generator_lr_scale: float = 1.0
    alpha: float = 0.5
    beta: float = 1.5
    tau: float = 0.9
    method: str = "mwt"
    gamma: float = 0.3
    compactness: str = "layers"
    confusers: int = 0
    mass: float = 1.0
    seed: int = 0
    shift: int = 0
    flip: bool = False
    device: str = "auto"
    eval_batch_size: int = 512

    def __post_init__(self) -> None:
        check_config(self)


METHODS = ("mwt", "mwt-repaired", "moda")
GATED_METHODS = ("mwt", "mwt-repaired")  # the methods whose modular model has mask generators
MODA_DEFAULTS = {"alpha": 1.0, "beta": 1.0, "gamma": 0.3}  # MODA's reported weights
MWT_DEFAULTS = {"alpha": 0.5, "beta": 1.5}
REPAIRED_DEFAULTS = {"alpha": 0.5, "beta": 1.5, "gamma": 0.3}  # MwT's, plus the gate sparsity weight


def check_config(cfg: TrainConfig) -> None:
    if cfg.method not in METHODS:
        raise InvalidInputError(
            f"unknown method {cfg.method!r} (known: {', '.join(METHODS)})", where="--method"
        )
    if cfg.compactness not in COMPACTNESS:
        raise InvalidInputError(
            f"unknown compactness {cfg.compactness!r} (known: {', '.join(COMPACTNESS)})",
            where="--compactness",
        )
    if cfg.compactness != "layers" and cfg.method != "moda":
        raise InvalidInputError(
            f"--compactness weighs MODA's compactness term; method {cfg.method!r} has none",
            where="--compactness",
            hint="drop --compactness, or use --method moda",
        )
    if not 0 < cfg.tau <= 1:
        raise InvalidInputError(f"tau must be in (0, 1], got {cfg.tau}", where="--tau")
    if cfg.confusers < 0:
        raise InvalidInputError(f"confusers must be at least 0, got {cfg.confusers}", where="--confusers")
    if not 0 < cfg.mass <= 1:
        raise InvalidInputError(f"mass must be a share in (0, 1], got {cfg.mass}", where="--mass")
    if cfg.mass < 1 and cfg.method != "moda":
        raise InvalidInputError(
            f"--mass trims the channels MODA's activation rule keeps; method {cfg.method!r} cuts by gates",
            where="--mass",
            hint="drop --mass, or use --method moda",
        )
    for name in ("epochs", "batch_size"):
        if getattr(cfg, name) < 1:
            raise InvalidInputError(f"{name} must be at least 1, got {getattr(cfg, name)}", where=f"--{name}")
    for name in ("lr", "alpha", "beta", "gamma", "weight_decay", "generator_lr_scale"):
        if getattr(cfg, name) < 0 or not math.isfinite(getattr(cfg, name)):
            raise InvalidInputError(
                f"{name} must be a finite number >= 0", where=f"--{name.replace('_', '-')}"
            )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class TrainResult:
    model: CNN
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    config: TrainConfig = field(default_factory=TrainConfig)


def train(
    model: CNN,
    data: LabelledData,
    cfg: TrainConfig,
    *,
    run: str = "modular",
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    reporter: Progress | None = None,
) -> TrainResult:
    """Train in place: MwT losses when the model has gates, MODA losses when cfg.method is "moda" and
    the run is not "standard", cross-entropy only otherwise."""
    reporter = reporter or NULL
    device = resolve_device(cfg.device)
    model.to(device)
    x, y = data.train.x, data.train.y
    steps = math.ceil(len(y) / cfg.batch_size)
    opt = torch.optim.SGD(
        param_groups(model, cfg),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=True,
        weight_decay=cfg.weight_decay,
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    state = {"epoch": 0, "seconds": 0.0, "history": []}
    ckpt = Checkpoint(checkpoint_dir, run) if checkpoint_dir else None
    if resume and ckpt and ckpt.exists():
        state = ckpt.load(model, opt, sched, gen, cfg)
    for epoch in range(state["epoch"], cfg.epochs):
        start = time.perf_counter()
        reporter.start(steps, f"{run} {epoch + 1}/{cfg.epochs}")
        moda = cfg.method == "moda" and run != "standard" and not model.gated
        stats = _epoch(model, x, y, cfg, opt, sched, gen, device, len(data.classes), reporter, moda)
        stats["val_accuracy"] = accuracy(model, data.val, cfg.eval_batch_size, device)
        state["seconds"] += time.perf_counter() - start
        stats["epoch"] = epoch + 1
        state["history"].append(stats)
        state["epoch"] = epoch + 1
        reporter.done(**shown_figures(stats))
        if ckpt:
            ckpt.save(model, opt, sched, gen, state, cfg)
    model.eval()
    return TrainResult(model, state["history"], state["seconds"], str(device), cfg)


def shown_figures(stats: dict[str, float]) -> dict[str, float]:
    """An epoch's figures as a progress bar shows them: loss, training and validation accuracy, KRR."""
    keys = {"loss": "loss", "acc": "accuracy", "val": "val_accuracy", "krr": "krr"}
    return {short: stats[key] for short, key in keys.items() if key in stats}


def param_groups(model: CNN, cfg: TrainConfig) -> list[dict]:
    """The network's weights at lr, the mask generators (if any) at lr * generator_lr_scale."""
    gens = [p for n, p in model.named_parameters() if ".gen." in n]
    rest = [p for n, p in model.named_parameters() if ".gen." not in n]
    groups = [{"params": rest}]
    if gens:
        groups.append({"params": gens, "lr": cfg.lr * cfg.generator_lr_scale})
    return groups


REPORT_EVERY = 25  # steps between progress-bar reads of the running loss and accuracy


def _epoch(model, x, y, cfg, opt, sched, gen, device, num_classes, reporter, moda=False) -> dict[str, float]:
    """One pass over the shuffled training split.

    The loop's running sums stay on the device and are read back only every REPORT_EVERY steps
    (for the progress bar) and at the end, not after every step.
    """
    model.train()
    weights = compactness_weights(model.lay, cfg.compactness) if moda else None
    perm = torch.randperm(len(y), generator=gen)
    keys = ("loss", "ce", "cohesion", "coupling", "compactness", "correct")
    sums = torch.zeros(len(keys), device=device)
    fired: torch.Tensor | None = None  # [classes, all gated kernels]: samples whose gate was open
    counts = torch.zeros(num_classes)
    seen, shown = 0, {"loss": float("nan"), "acc": float("nan")}
    for step, i in enumerate(range(0, len(y), cfg.batch_size)):
        idx = perm[i : i + cfg.batch_size]
        xb, yb = x[idx], y[idx]
        if cfg.shift or cfg.flip:
            xb = augment(xb, cfg.shift, cfg.flip, gen)
        counts += torch.bincount(yb, minlength=num_classes).float()
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        logits, gates = model.forward_activations(xb) if moda else model.forward_gates(xb)
        loss = ce = F.cross_entropy(logits, yb)
        coh = coup = comp = torch.zeros((), device=device)
        if moda:  # cohesion/coupling hold MODA's affinity/dispersion; "gates" are the activations
            coh, coup, comp = moda_losses(gates, yb, weights)
            loss = ce + cfg.alpha * coh + cfg.beta * coup + cfg.gamma * comp
            fired = _count_fired(fired, gates, yb, num_classes)
        elif gates:
            coh, coup = mwt_losses(gates, yb)
            loss = ce + cfg.alpha * coh + cfg.beta * coup
            if cfg.method == "mwt-repaired":
                comp = gate_sparsity(gates)
                loss = loss + cfg.gamma * comp
            fired = _count_fired(fired, gates, yb, num_classes)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        n = len(idx)
        seen += n
        with torch.no_grad():
            correct = (logits.argmax(1) == yb).sum()
            sums += torch.stack([loss * n, ce * n, coh * n, coup * n, comp * n, correct]).detach()
        if step % REPORT_EVERY == 0 or i + cfg.batch_size >= len(y):
            running = sums.tolist()
            shown = {"loss": running[0] / seen, "acc": running[-1] / seen}
        reporter.advance(1, **shown)
    totals = dict(zip(keys, sums.tolist(), strict=True))
    stats = {k: v / seen for k, v in totals.items() if k != "correct"}
    stats["accuracy"] = totals["correct"] / seen
    if fired is not None:
        stats["krr"] = running_krr(fired.cpu(), counts, cfg.tau)
    return stats


def gate_sparsity(gates: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean gate over samples, kernels and layers: the repaired MwT's L1 term (gates are >= 0)."""
    return torch.stack([g.mean() for g in gates.values()]).mean()


def _count_fired(
    fired: torch.Tensor | None, gates: dict[str, torch.Tensor], y: torch.Tensor, k: int
) -> torch.Tensor:
    """Add this batch's open-gate counts per class; all layers at once, since KRR pools them."""
    with torch.no_grad():
        opened = torch.cat([g > 0 for g in gates.values()], dim=1).float()
        c = F.one_hot(y, k).float().T @ opened
    return c if fired is None else fired + c


def running_krr(fired: torch.Tensor, counts: torch.Tensor, tau: float) -> float:
    """Mean module KRR estimated from the epoch's training gates (a progress figure, not the final one)."""
    freq = fired / counts.clamp_min(1)[:, None]
    return float((freq >= tau).sum(1).float().mean() / freq.shape[1])


@torch.no_grad()
def predict_logits(
    model: CNN, x: torch.Tensor, batch_size: int = 512, device: torch.device | None = None
) -> torch.Tensor:
    device = device or next(model.parameters()).device
    model.eval()
    out = [
        model.forward_gates(x[i : i + batch_size].to(device))[0].cpu() for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out) if out else torch.zeros(0)


def accuracy(model: CNN, split: Split, batch_size: int = 512, device: torch.device | None = None) -> float:
    was_training = model.training
    acc = float((predict_logits(model, split.x, batch_size, device).argmax(1) == split.y).float().mean())
    model.train(was_training)
    return acc


# extraction and placement: free to change on resume
_NOT_TRAINING = ("tau", "confusers", "mass", "device", "eval_batch_size")
# no effect on the standard model's training
_GATES_ONLY = ("alpha", "beta", "gamma", "method", "generator_lr_scale", "compactness")


def _recipe(config: dict, run: str) -> dict:
    """The settings a checkpoint must share with the resumed run: those that shape its training."""
    ignored = _NOT_TRAINING + (_GATES_ONLY if run == "standard" else ())
    config = {"method": "mwt", "gamma": 0.3, "compactness": "layers", **config}  # older checkpoints' defaults
    return {k: v for k, v in config.items() if k not in ignored}


class Checkpoint:
    """Per-epoch checkpoint: model and optimizer tensors in safetensors, scalars in JSON."""

    def __init__(self, directory: Path, run: str) -> None:
        self.directory = Path(directory)
        self.run = run
        self.tensors = self.directory / f"checkpoint-{run}.safetensors"
        self.meta = self.directory / f"checkpoint-{run}.json"

    def exists(self) -> bool:
        return self.tensors.is_file() and self.meta.is_file()

    def save(self, model, opt, sched, gen, state, cfg) -> None:
        from safetensors.torch import save_file

        self.directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        params = [p for g in opt.param_groups for p in g["params"]]
        for i, p in enumerate(params):
            buf = opt.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                tensors[f"opt.{i}"] = buf.detach().cpu().contiguous()
        tensors["rng"] = gen.get_state()
        tmp = self.tensors.with_suffix(".tmp")
        save_file(tensors, str(tmp))
        tmp.replace(self.tensors)
        meta = {**state, "sched_step": sched.last_epoch, "config": asdict(cfg)}
        self.meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")

    def load(self, model, opt, sched, gen, cfg) -> dict:
        from safetensors.torch import load_file

        meta = json.loads(self.meta.read_text(encoding="utf-8"))
        if _recipe(meta["config"], self.run) != _recipe(asdict(cfg), self.run):
            raise InvalidInputError(
                "the checkpoint was made with a different recipe",
                where=str(self.meta),
                hint="resume with the same options, or drop --resume to start over",
            )
        tensors = load_file(str(self.tensors))
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        params = [p for g in opt.param_groups for p in g["params"]]
        for i, p in enumerate(params):
            if f"opt.{i}" in tensors:
                opt.state[p]["momentum_buffer"] = tensors[f"opt.{i}"].to(p.device)
        step = int(meta["sched_step"])
        for group, base in zip(opt.param_groups, sched.base_lrs, strict=True):
            group["lr"] = base * (1 + math.cos(math.pi * step / sched.T_max)) / 2
        sched.last_epoch = step
        gen.set_state(tensors["rng"])
        return {"epoch": meta["epoch"], "seconds": meta["seconds"], "history": meta["history"]}
