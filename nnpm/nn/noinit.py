"""Building a network whose every tensor is about to be loaded, without initialising it first.

torch's layers initialise their parameters as they are constructed (`reset_parameters`:
kaiming-uniform draws for every weight), which for a 200 MB model costs more than reading
its file. `nnpm.load` overwrites all of them with the package's tensors, so inside `no_init()`
torch's layers skip that step: their tensors are allocated, not drawn.

Why this way rather than a `meta`-device build: builders compute the buffers that are not
saved (Normalize's statistics, a CNN's add positions, a translator's bridge) from the spec
with ordinary tensor code, and load dependencies and fuse modules in the middle of a build
(a composite loads its modules' source model); on `meta` all of that would be empty. Here only
`reset_parameters` of torch.nn's own layers is skipped, nothing else changes, and the loader
still copies every tensor into the network it built, so a loaded network is laid out and
computes exactly as before (tests/nn/test_no_init.py compares them bit for bit).

The switch is per thread: another thread building a network to train it meanwhile gets its
random initialisation as usual. Anything `no_init()` leaves unset is caught by the loader,
which refuses a network with a tensor the package (or a dependency) did not supply.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import nn

_state = threading.local()


def skipping() -> bool:
    """True inside `no_init()` in this thread."""
    return getattr(_state, "depth", 0) > 0


@contextmanager
def no_init() -> Iterator[None]:
    """torch.nn layers built in this thread inside the block leave their parameters uninitialised."""
    _install()
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1


def _skippable(original: Callable) -> Callable:
    @functools.wraps(original)
    def reset(self, *args, **kwargs):
        if skipping():
            return None
        return original(self, *args, **kwargs)

    reset.nnpm_no_init = True  # type: ignore[attr-defined]
    return reset


@functools.cache
def _install() -> None:
    """Wrap every `reset_parameters` (and `_reset_parameters`) that a torch.nn class defines, once per
    process; outside `no_init()` the wrapper calls the original, so nothing else sees a change."""
    seen: set[type] = set()
    stack: list[type] = [nn.Module]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    for cls in seen:
        if not cls.__module__.startswith("torch.nn."):
            continue
        for name in ("reset_parameters", "_reset_parameters"):
            original = cls.__dict__.get(name)
            if callable(original) and not getattr(original, "nnpm_no_init", False):
                setattr(cls, name, _skippable(original))
