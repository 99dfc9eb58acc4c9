"""Work shared out over a Dask cluster: parts in, results back in input order.

A city's camera archive or a million training faces outgrow one machine.
maskhog then hands its work to an existing engine, the distributed scheduler
of Dask (``pip install 'maskhog[dask]'``), with the same shape as its local
process pool (:mod:`maskhog.batch`):

- what every part needs (a detector, the crop rules) goes to each worker
  once, in a worker plugin; a worker that joins or restarts mid-run gets it
  too. Each task then carries only its part: a few file paths;
- results come back in input order, each as soon as it and all before it
  are done, with a bounded number of parts in flight;
- a worker that dies takes no result with it: the scheduler runs its parts
  again elsewhere, and each part's result is given exactly once;
- an unreachable scheduler, a cluster without workers, or workers running
  another maskhog version stop the run at once with a :class:`ClusterError`.

Workers read input files themselves, so paths must name the same files on
every worker (shared storage); video frames travel as arrays.
"""

from __future__ import annotations

import contextlib
import pickle
import uuid
from typing import Any, Callable, Iterable, Iterator

from . import __version__

try:
    from distributed import WorkerPlugin
except ImportError:   # connect() says what to install
    WorkerPlugin = object

__all__ = ["ClusterError", "connect", "connected", "ordered_map", "CONNECT_TIMEOUT"]

#: Seconds to reach the scheduler and to see its first worker: a scheduler on the
#: network answers in milliseconds, so a few seconds mean it is not there.
CONNECT_TIMEOUT = 5.0


class ClusterError(RuntimeError):
    """The cluster cannot do the work: unreachable, without workers, or mismatched."""


def connect(address: str, *, timeout: float = CONNECT_TIMEOUT):
    """A :class:`distributed.Client` of the scheduler at ``address``, checked for work.

    Parameters
    ----------
    address : str
        The scheduler's address, ``tcp://HOST:8786``.
    timeout : float
        Seconds to connect, and to wait for a first worker.

    Raises
    ------
    ClusterError
        Dask is not installed, the scheduler does not answer, it has no worker,
        or a worker cannot import maskhog or has another version of it.
    """
    try:
        from distributed import Client
        from distributed.comm.addressing import get_address_host_port
    except ImportError:
        raise ClusterError("a cluster needs Dask: pip install 'maskhog[dask]'") from None
    try:
        # Checked first: a client half made from a bad address hangs on its way out.
        get_address_host_port(address)
    except ValueError as exc:
        raise ClusterError(f"{address!r} is not a scheduler address ({exc}); "
                           "give one like tcp://HOST:8786") from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError):
        raise ClusterError(f"no Dask scheduler answers at {address} (waited {timeout:g} s)") from None
    try:
        _check_workers(client, address, timeout)
    except BaseException:
        client.close()
        raise
    return client


def _check_workers(client, address, timeout) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ClusterError(f"the Dask scheduler at {address} has no workers "
                           f"(waited {timeout:g} s): start some with `dask worker {address}`") from None
    found = client.run(_maskhog_version, on_error="return")
    wrong = {worker: version for worker, version in found.items() if version != __version__}
    if wrong:
        said = ", ".join(f"{w} has {_said(v)}" for w, v in sorted(wrong.items()))
        raise ClusterError(f"every worker needs maskhog {__version__}, as here: {said}")


def _said(version) -> str:
    """A worker's answer to the version question, in words."""
    if isinstance(version, str):
        return f"maskhog {version}"
    return f"no usable maskhog ({type(version).__name__}: {version})"


def _maskhog_version() -> str:
    # Run on each worker: importing this module there already proves maskhog imports.
    from maskhog import __version__ as version

    return version


@contextlib.contextmanager
def connected(cluster):
    """``cluster`` as a client within the block: an address is connected to (and
    closed after), a :class:`distributed.Client` used as it is."""
    if not isinstance(cluster, str):
        yield cluster
        return
    client = connect(cluster)
    try:
        yield client
    finally:
        client.close()


def ordered_map(client, fn: Callable[[Any, Any], Any], shared: Any, parts: Iterable,
                *, ahead: int | None = None) -> Iterator:
    """``fn(shared, part)`` for each part on the cluster's workers, yielded in input order.

    Parameters
    ----------
    client : distributed.Client
    fn : callable
        Importable on the workers (a function of maskhog, or a partial of one).
    shared : picklable
        Sent to each worker once and unpickled there once; every part's call
        gets the worker's copy.
    parts : iterable
        Read lazily, a few ahead of the results given.
    ahead : int, optional
        Parts in flight or done but not yet given; default two per worker
        thread, so that no thread waits for its next part.
    """
    from distributed import KilledWorker, as_completed

    plugin = SharedWork(shared)
    client.register_plugin(plugin, name=plugin.name)
    ahead = ahead or max(2, 2 * sum(client.nthreads().values()))
    position = {}     # a running part's future -> its position in the input
    ready = {}        # position -> result, held until those before it are given
    finished = as_completed(loop=client.loop, with_results=True)
    turn = 0

    def collect():
        # One more part done, wherever it is in the input.
        try:
            future, result = next(finished)
        except KilledWorker as exc:
            raise ClusterError(f"workers died running one part again and again ({exc}); "
                               "see the workers' logs (memory?)") from None
        ready[position.pop(future)] = result

    try:
        for k, part in enumerate(parts):
            # Our own key: Dask would give two equal parts (a folder given twice) one task.
            future = client.submit(_run_part, plugin.name, fn, part, key=f"{plugin.name}-{k}")
            position[future] = k
            finished.add(future)
            while len(position) + len(ready) >= ahead:
                collect()
                while turn in ready:
                    yield ready.pop(turn)
                    turn += 1
        while position or ready:
            if turn not in ready:
                collect()
            while turn in ready:
                yield ready.pop(turn)
                turn += 1
    finally:
        # Done or interrupted: stop what still runs and free the workers' copies.
        finished.clear()
        client.cancel(list(position))
        with contextlib.suppress(Exception):   # a scheduler already gone has nothing to free
            client.unregister_worker_plugin(plugin.name)


# ------------------------------------------------------------------ workers --

class SharedWork(WorkerPlugin):
    """What a run's parts share: pickled once here, unpickled once on each worker."""

    def __init__(self, shared):
        self.name = f"maskhog-{uuid.uuid4().hex[:12]}"
        self.payload = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        self.version = __version__
        self.shared, self.problem = None, None

    def setup(self, worker) -> None:
        from .batch import prepare_worker

        prepare_worker()
        if self.version != __version__:   # a worker that joined after the check at connect
            self.problem = f"worker {worker.address} has maskhog {__version__}, the run {self.version}"
            return
        self.shared = pickle.loads(self.payload)

    def teardown(self, worker) -> None:
        self.shared = None


def _run_part(name: str, fn, part):
    """One part on a worker, with the worker's copy of what the run shares."""
    from distributed import get_worker

    plugin = get_worker().plugins[name]
    if plugin.problem:
        raise ClusterError(plugin.problem)
    return fn(plugin.shared, part)
