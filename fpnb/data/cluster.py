"""Dask for the study's embarrassingly parallel work: dataset builds and matcher scoring.

By default a ``LocalCluster`` sized to the machine (one single-threaded worker process per core);
with ``scheduler`` (or ``$FPNB_SCHEDULER``) the same call uses an existing cluster, e.g. one
started with ``dask scheduler`` and ``dask worker tcp://HOST:8786`` on other machines that have
fpnb installed. Results come back in task order, so they never depend on the number of workers.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

SCHEDULER_ENV = "FPNB_SCHEDULER"
# One thread per worker process, without Dask's default MALLOC_TRIM_THRESHOLD_=65536: that returns
# every large temporary array to the OS at once, which made the print generator 2.3x slower per task.
WORKER_ENVIRON = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}
# A local worker's background samplers take the GIL from the task thread: the statistical profiler
# every 10 ms, the GIL monitor every 1 ms, system and memory monitors. Our tasks are long and
# CPU-bound, so they are switched off or slowed: 2-worker builds of 480 pairs ran 1-9 % faster
# without them (three interleaved runs; 1.62-1.66x the one-worker rate against 1.53-1.61x).
LOCAL_CONFIG = {"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON,
                "distributed.worker.profile.enabled": False,
                "distributed.admin.system-monitor.gil.enabled": False,
                "distributed.admin.system-monitor.interval": "2s",
                "distributed.worker.memory.monitor-interval": "1s"}


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler to use: the argument, else ``$FPNB_SCHEDULER``, else None (a local cluster)."""
    return scheduler or os.environ.get(SCHEDULER_ENV) or None


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, timeout_s: float = 10.0) -> Iterator[Any]:
    """A ``distributed.Client`` on the named scheduler, or on a LocalCluster of ``workers`` processes.

    A scheduler that does not answer within ``timeout_s`` raises ConnectionError naming it.
    """
    import dask
    from distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    if address:
        try:
            client = Client(address, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as err:
            raise ConnectionError(f"scheduler {address!r}: no Dask scheduler answered within {timeout_s:g} s "
                                  f"({type(err).__name__}); start one with `dask scheduler`, or unset "
                                  f"${SCHEDULER_ENV} for a local cluster") from err
        print(f"dask: using scheduler {address}; dashboard {client.dashboard_link}", flush=True)
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or len(os.sched_getaffinity(0))
    with dask.config.set(LOCAL_CONFIG), \
            LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def run_tasks(fn: Callable, items: Sequence, scheduler: str | None = None, workers: int | None = None,
              desc: str = "tasks", progress: bool = True, shared: Sequence | None = None,
              uses: Callable[[Any], Sequence[int]] | None = None) -> list:
    """``[fn(item) for item in items]`` on Dask (in item order), with a progress bar.

    With ``shared`` (large inputs that many tasks read) and ``uses(item)`` (the indices into
    ``shared`` an item needs), each shared object is sent to the cluster once and a task gets
    ``fn(item, {index: object})`` for its own indices; Dask moves each object to a worker at most once.
    One local worker and no scheduler runs in this process: no cluster to start for small jobs.
    """
    from tqdm.auto import tqdm

    def needed(item, store) -> tuple:
        return (item,) if shared is None else (item, {int(k): store[int(k)] for k in uses(item)})

    if not scheduler_address(scheduler) and (workers or len(os.sched_getaffinity(0))) <= 1:
        return [fn(*needed(item, shared)) for item in tqdm(items, desc=desc, disable=not progress)]
    from distributed import as_completed

    with dask_client(scheduler, workers) as client:
        store = None if shared is None else client.scatter(list(shared))
        futures = [client.submit(fn, *needed(item, store), pure=False) for item in items]
        for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, disable=not progress):
            pass
        return client.gather(futures)
