"""Independent, seeded jobs of a reproduction run in worker processes (one per core, one torch thread
each). Every job fixes its own seeds, so the results do not depend on the number of processes."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Dict, Hashable, Optional, Tuple


def run_jobs(fn: Callable, jobs: Dict[Hashable, Tuple], workers: Optional[int] = None, progress: bool = True,
             desc: str = "") -> Dict[Hashable, object]:
    """{key: fn(*args)} for jobs {key: args}. `fn` must be a module-level function (it is pickled by
    name into "spawn" workers, which re-import its module); workers=1 runs in this process."""
    from tqdm.auto import tqdm

    workers = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
    results: Dict[Hashable, object] = {}
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress)
    if workers == 1:
        for key, args in jobs.items():
            results[key] = fn(*args)
            bar.update()
    else:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(fn, *args): key for key, args in jobs.items()}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    return results
