"""Seeded jobs, worker processes, torch threads and progress bars: the one place for each.

Every job seeds itself from its arguments, so results do not depend on the number of workers or
on the order in which jobs finish. Threads are always restored; workers respect the CPU affinity
of the process (`os.sched_getaffinity`), not the machine's core count.
"""
from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Hashable, Iterator, Mapping, Optional, Tuple

import torch

if TYPE_CHECKING:
    from tqdm import tqdm


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; os.cpu_count() where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextlib.contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """Runs the block with `threads` torch threads (None: as it is), restoring the count afterwards."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def progress_enabled(progress: bool = True) -> bool:
    """False when asked, or when the environment sets TQDM_DISABLE (to anything but 0/false)."""
    flag = os.environ.get("TQDM_DISABLE", "").strip().lower()
    return progress and flag in ("", "0", "false", "no")


def bar(total: Optional[int] = None, desc: str = "", progress: bool = True, **kw: Any) -> tqdm:
    """A tqdm progress bar that honours `progress` and TQDM_DISABLE (tqdm loads only here)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not progress_enabled(progress), leave=False,
                dynamic_ncols=True, mininterval=0.5, **kw)


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _call(fn: Callable, args: Tuple) -> Any:
    return fn(*args)


def process_pool(workers: int, threads: int) -> ProcessPoolExecutor:
    """`workers` "spawn" processes with `threads` torch threads each."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,))


def run_jobs(fn: Callable, jobs: Mapping[Hashable, Tuple], *, workers: int = 1, threads: int = 1,
             progress: bool = True, desc: str = "", pool: Optional[ProcessPoolExecutor] = None) -> Dict[Hashable, Any]:
    """{key: fn(*args)} for jobs {key: args}, in `workers` processes of `threads` torch threads each
    (in `pool` when given, so several calls share the processes' start-up).

    `fn` must be a module-level function (it is pickled by name into "spawn" workers). workers=1 runs
    the jobs in this process, in order, with `threads` threads (restored afterwards). The result is
    ordered as `jobs`, whatever the order of completion."""
    workers = max(1, min(int(workers), len(jobs)))
    done: Dict[Hashable, Any] = {}
    with bar(len(jobs), desc, progress) as pbar:
        if workers == 1:
            with torch_threads(threads):
                for key, args in jobs.items():
                    done[key] = fn(*args)
                    pbar.update()
        else:
            with contextlib.ExitStack() as stack:
                if pool is None:
                    pool = stack.enter_context(process_pool(workers, threads))
                futures = {pool.submit(_call, fn, args): key for key, args in jobs.items()}
                for future in as_completed(futures):
                    done[futures[future]] = future.result()
                    pbar.update()
    return {key: done[key] for key in jobs}


@dataclass
class Runtime:
    """How a reproduction runs (not what it computes): its output folder, worker processes, torch
    threads per job and progress bars. Passed to every experiment's `run(config, runtime)`."""
    out: Path
    workers: int = 1
    threads: int = 1
    progress: bool = True
    seconds: Dict[str, float] = field(default_factory=dict)
    _pool: Optional[ProcessPoolExecutor] = field(default=None, repr=False)

    def map(self, fn: Callable, jobs: Mapping[Hashable, Tuple], desc: str = "") -> Dict[Hashable, Any]:
        """`run_jobs` with this runtime's workers, threads and progress setting; the worker processes
        start once and serve every call until `close()`."""
        if self.workers > 1 and len(jobs) > 1 and self._pool is None:
            self._pool = process_pool(self.workers, self.threads)
        return run_jobs(fn, jobs, workers=self.workers, threads=self.threads, progress=self.progress, desc=desc,
                        pool=self._pool)

    def close(self) -> None:
        """Stops the worker processes."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def bar(self, total: Optional[int] = None, desc: str = "", **kw: Any) -> tqdm:
        return bar(total, desc, self.progress, **kw)

    @contextlib.contextmanager
    def timed(self, part: str) -> Iterator[None]:
        """Adds the wall time of the block to `seconds[part]` (reported in results.json)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - start
