"""Which rows run at each step: the layout every hand-written scan (``bptt*.py``) works in.

A scan keeps its per-step tensors *packed* and time major, like a PackedSequence's data: step t
owns ``running[t]`` consecutive rows, the sequences still running at t, sorted longest first,
so that at every step they are a prefix of the previous step's rows. A step then works on its
own rows only (no mask, no work for sequences that have ended), and a sequence's state is
simply never touched after its last step, which is what the scan's masked loop computes.
Without lengths every step owns all B rows in the caller's order and packing is a reshape.

The per-step views of a packed tensor come from one ``torch.split`` call, so a loop over time
creates no views of its own: at small H a scan's speed is the number of ops per step.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from nnzoo.layers.gemm import transforms_active


def scans_allowed() -> bool:
    """False inside torch.func transforms (grad, vmap, ...), which the hand-written scans
    cannot join: cells then take the loop."""
    return not transforms_active()


def running_rows(n: int, *states: Tensor) -> tuple[Tensor, ...]:
    """The first n rows of each state, the sequences still running (no new view when all
    still run)."""
    return states if n == states[0].shape[0] else tuple(s[:n] for s in states)


def needs_graph(*tensors: Tensor | None) -> bool:
    """True if autograd is recording and one of ``tensors`` requires a gradient."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


class Schedule:
    """The packed layout of a batch of B sequences of T steps (lengths (B,) or None: all T).

    Attributes:
        running: per step, the number of sequences still running (their rows at that step).
        offsets: per step, its first row in a packed tensor; ``rows`` is the total.
        order: (B,) the caller's rows, longest first (None without lengths).
    """

    def __init__(self, lengths: Tensor | None, batch: int, steps: int) -> None:
        self.batch, self.steps = batch, steps
        if lengths is None:
            self.order = self.restore = self.index = None
            self.running = [batch] * steps
        else:
            sorted_lengths, self.order = torch.sort(lengths, descending=True, stable=True)
            self.restore = torch.argsort(self.order)
            counts = torch.bincount(sorted_lengths.cpu(), minlength=steps + 1)  # (T + 1,)
            at_least = counts.flip(0).cumsum(0).flip(0)  # at_least[t]: lengths >= t
            self.running = at_least[1:].tolist()
            t = torch.arange(steps, device=self.order.device)
            running = t[:, None] < sorted_lengths[None, :]  # (T, B) in the sorted order
            # row of the caller's time-major (T * B) layout for each packed row
            self.index = (t[:, None] * batch + self.order[None, :])[running]
        self.offsets = [0]
        for n in self.running[:-1]:
            self.offsets.append(self.offsets[-1] + n)
        self.rows = self.offsets[-1] + self.running[-1] if steps else 0
        if self.order is not None:
            # packed row of each sequence's last step, for the caller's rows
            offsets = torch.as_tensor(self.offsets, device=self.order.device)
            last = offsets[sorted_lengths - 1] + torch.arange(batch, device=self.order.device)
            self._last = last[self.restore]

    @property
    def full(self) -> bool:
        return self.order is None

    # -- between the caller's layout and the packed one ---------------------------------------
    def sort(self, x: Tensor) -> Tensor:
        """x (B, ...) in the sorted order (a state entering the scan)."""
        return x if self.order is None else x.index_select(0, self.order)

    def unsort(self, x: Tensor) -> Tensor:
        """x (B, ...), sorted, back in the caller's order."""
        return x if self.order is None else x.index_select(0, self.restore)

    def pack(self, x: Tensor) -> Tensor:
        """(B, T, F) in the caller's layout -> packed (rows, F)."""
        tm = x.transpose(0, 1)  # (T, B, F): a view of time-major storage when x is one
        flat = tm.reshape(self.steps * self.batch, x.shape[-1])
        return flat if self.index is None else flat.index_select(0, self.index)

    def unpack(self, p: Tensor) -> Tensor:
        """Packed (rows, F) -> (B, T, F), a view of time-major storage, zeros past each end."""
        if self.index is not None:
            p = p.new_zeros(self.steps * self.batch, p.shape[1]).index_copy_(0, self.index, p)
        return p.view(self.steps, self.batch, -1).transpose(0, 1)

    def last(self, p: Tensor) -> Tensor:
        """(B, F) in the caller's order: each sequence's row at its own last step."""
        if self.index is None:
            return p[p.shape[0] - self.batch :]
        return p.index_select(0, self._last)

    # -- inside the loop ----------------------------------------------------------------------
    def walk(self) -> Iterator[tuple[int, int]]:
        """(t, running[t]) for every step some sequence reaches, in order: a forward loop."""
        for t, n in enumerate(self.running):
            if n == 0:
                return
            yield t, n

    def before(self, steps: list[Tensor], t: int, first: Tensor) -> Tensor:
        """Step t's rows one step earlier: ``steps[t - 1]`` (``first`` at t = 0) cut to the
        sequences still running at t (a backward loop's h_{t-1} or c_{t-1})."""
        prev = steps[t - 1] if t > 0 else first
        return prev if self.full else prev[: self.running[t]]

    def split(self, p: Tensor) -> list[Tensor]:
        """The per-step views (running[t], F) of a packed tensor."""
        return list(p.split(self.running)) if self.steps else []

    def blocks(self, p: Tensor, size: int, *spans: tuple[int, int]) -> list[list[Tensor]]:
        """For each span (a, b), the per-step views of columns [a * size, b * size) of p."""
        return [self.split(p[:, a * size : b * size]) for a, b in spans]

    def previous(self, p: Tensor, first: Tensor) -> Tensor:
        """Packed: at each step, its rows' value one step before (``first`` (B, F), sorted, at
        step 0), e.g. the h_{t-1} each step reads."""
        if self.index is None:
            return torch.cat([first, p[: p.shape[0] - self.batch]])
        steps = self.split(p)
        pieces = [first[: self.running[0]]]
        pieces += [steps[t - 1][: self.running[t]] for t in range(1, self.steps)]
        return torch.cat(pieces)

    def output_gradient(self, dh: Tensor, dO: list[Tensor] | None, t: int) -> Tensor | None:
        """In a backward loop at step t: the gradient of the outputs at t - 1 (None at t = 0 or
        without one). The rows of sequences whose last step is t - 1 go into ``dh`` (their
        carried gradient starts there); the rows still running at t are returned, to be added
        to what step t hands back."""
        if dO is None or t == 0:
            return None
        d_next = dO[t - 1]
        if self.full:
            return d_next
        n = self.running[t]
        dh[n : self.running[t - 1]].add_(d_next[n:])
        return d_next[:n]

    def seed_backward(self, dh: Tensor, dO: Tensor | None) -> int:
        """The steps a backward pass walks, those some sequence reaches, after adding the
        gradient of the last one's outputs (``dO``'s, per step) into ``dh``'s running rows."""
        T = self.steps
        while T > 0 and self.running[T - 1] == 0:
            T -= 1  # steps no sequence reaches
        if dO is not None:
            dh[: self.running[T - 1]].add_(dO[T - 1])
        return T

    def constants(self, like: Tensor, size: int, *values: float) -> dict[int, tuple[Tensor, ...]]:
        """For every n in ``running``, (n, size) tensors filled with ``values``: full-size
        operands keep the elementwise kernels vectorised, where broadcasting a 0-dim tensor
        makes them several times slower."""
        full = [like.new_full((self.batch, size), v) for v in values]
        return {n: tuple(f[:n] for f in full) for n in set(self.running)}
