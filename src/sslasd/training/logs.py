"""What a run shows while it trains: ``metrics.csv``, TensorBoard events and a rich progress bar.

Only the process of rank 0 writes or draws; the others get disabled instances (every method a
no-op), so the loop calls them unconditionally. After a resume, rows and events of steps later
than the checkpoint (written before the kill, then trained again) are dropped, so the files read
as one uninterrupted run.

Example
-------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> log = MetricsLog(out, start_step=0, tensorboard=False)
>>> log.write({"step": 10, "epoch": 0, "lr": 1e-4, "loss": 2.5, "clips_per_s": 80.0})
>>> log.close()
>>> (out / "metrics.csv").read_text().splitlines()[1]
'10,0,0.0001,2.5,,,,80.0'
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sslasd._common import atomic_write_text, get_logger
from sslasd._common.run_layout import TRAIN_LOG

CSV_COLUMNS = ("step", "epoch", "lr", "loss", "loss_margin", "loss_contrastive", "loss_vq", "clips_per_s")

log = get_logger("training")


class MetricsLog:
    """``out_dir/metrics.csv`` (columns :data:`CSV_COLUMNS`, missing values empty) and ``out_dir/tb/``.

    Parameters
    ----------
    out_dir : Path
        The training folder.
    start_step : int
        Steps already done (0 for a new run); later rows of an earlier attempt are removed.
    tensorboard : bool
        Also write TensorBoard scalars, when the ``tensorboard`` package is installed (a warning
        says so when it is not).
    enabled : bool
        False on processes other than rank 0: nothing is written.
    """

    def __init__(self, out_dir: Path, *, start_step: int, tensorboard: bool, enabled: bool = True) -> None:
        self.enabled = enabled
        self._writer = None
        if not enabled:
            return
        self.path = out_dir / TRAIN_LOG
        _keep_rows_until(self.path, start_step)
        self._file = self.path.open("a", encoding="utf-8")
        if tensorboard and importlib.util.find_spec("tensorboard") is None:
            log.warning("train.tensorboard is on but the tensorboard package is not installed: no tb/ logs")
        elif tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # hide events of later steps left by an earlier attempt (all of them for a new run)
            self._writer = SummaryWriter(log_dir=str(out_dir / "tb"), purge_step=start_step + 1)

    def write(self, row: Mapping[str, float]) -> None:
        """Append one row (``step`` is required) and flush it, so a kill loses nothing logged."""
        if not self.enabled:
            return
        self._file.write(",".join(_cell(row.get(column)) for column in CSV_COLUMNS) + "\n")
        self._file.flush()
        if self._writer is not None:
            step = int(row["step"])
            for name, value in row.items():
                if name != "step" and value is not None:
                    self._writer.add_scalar(f"train/{name}", value, step)
            self._writer.flush()

    def close(self) -> None:
        """Close the CSV file and the TensorBoard writer."""
        if not self.enabled:
            return
        self._file.close()
        if self._writer is not None:
            self._writer.close()


class ProgressBar:
    """A rich progress bar of the steps with the last logged loss and clips/s, on stderr.

    Drawn only when ``enabled`` (rank 0 and ``progress=True``) and stderr is a terminal, so logs of
    batch jobs stay free of control characters.
    """

    def __init__(self, *, total: int, done: int, enabled: bool) -> None:
        console = Console(file=sys.stderr)
        self._progress = None
        if not (enabled and console.is_terminal):
            return
        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} clips/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._progress.add_task("train", total=total, completed=done, loss="-", rate="-")
        self._progress.start()

    def update(self, step: int, loss: float | None = None, clips_per_s: float | None = None) -> None:
        """Move to ``step``; show ``loss`` and ``clips_per_s`` when given (at logging steps)."""
        if self._progress is None:
            return
        fields = {}
        if loss is not None:
            fields["loss"] = f"{loss:.4f}"
        if clips_per_s is not None:
            fields["rate"] = f"{clips_per_s:.1f}"
        self._progress.update(self._task, completed=step, **fields)

    def close(self) -> None:
        """Stop drawing (leaves the final bar on screen)."""
        if self._progress is not None:
            self._progress.stop()


def _cell(value: float | None) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _keep_rows_until(path: Path, step: int) -> None:
    """Rewrite ``path`` atomically with its header and the complete rows of steps <= ``step``."""
    header = ",".join(CSV_COLUMNS)
    kept = [header]
    if step > 0 and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            cells = line.split(",")
            if len(cells) == len(CSV_COLUMNS) and cells[0].isdigit() and int(cells[0]) <= step:
                kept.append(line)
    atomic_write_text(path, "\n".join(kept) + "\n")
