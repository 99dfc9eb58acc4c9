"""One piece of work over many images, in this process or several, results in input order.

``maskhog predict`` and ``maskhog detect`` give every image to one function
(a detector's ``detect``, say). With ``jobs`` above one, worker processes do
it: each worker receives that function once, when it starts, builds what it
needs once (networks, dlib detectors), and is then sent file paths, a few at
a time, not pickled detectors. Each worker reads its images itself; video
frames, which only the reading process can decode, travel as arrays.

Results come back in input order as soon as they are ready, so a caller can
write each one at once and an interrupted run keeps what it did. A worker
of a run killed with ``kill -9`` notices within a second and exits.

With ``cluster`` (a Dask scheduler's address), the workers of a Dask cluster
do it the same way (:mod:`maskhog.cluster`): the function goes to each worker
once, paths go out a few at a time, results come back in input order.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import numpy as np

from .io import ImageBytes, ImageError, read_image
from .memory import keep_image_buffers
from .messages import about, to_stderr

__all__ = ["Done", "run_batch", "CHUNK"]

#: Images sent to a worker at a time: enough to make a message's cost small beside the
#: detection (tens of milliseconds an image), few enough to keep results flowing.
CHUNK = 4


class Done(NamedTuple):
    """One input's outcome: its ``name``, the decoded ``image`` (None when a worker read
    it, unless asked for), what the work gave (``result``) or why it could not (``error``)."""

    name: str
    image: np.ndarray | None
    result: Any
    error: str | None


def run_batch(items: Iterable[tuple[str, Any]], work: Callable, *, jobs: int = 1,
              images: bool = False, chunk: int = CHUNK, cluster=None) -> Iterator[Done]:
    """``work(image)`` for each input, yielded in input order as :class:`Done`.

    Parameters
    ----------
    items : iterable of (name, source)
        ``source`` is an image file's path, its contents
        (:class:`~maskhog.io.ImageBytes`, for workers that cannot see the
        file), a decoded BGR image, or an :class:`~maskhog.io.ImageError`
        (an input already known to be bad: it comes back as an error in
        its place).
    work : callable
        Takes one BGR image. With ``jobs > 1`` or a cluster it is pickled once
        per worker, so it must pickle (a :class:`~maskhog.pipeline.MaskDetector`'s
        bound ``detect`` does).
    jobs : int
        Worker processes; 1 runs everything here.
    images : bool
        Send each decoded image back from the workers (to draw on it).
    chunk : int
        Inputs per message to a worker.
    cluster : str or distributed.Client, optional
        A Dask scheduler's address (``tcp://HOST:8786``) or a client of one:
        its workers do the work instead (``jobs`` is then not used). Paths
        must name the same files there.

    Raises
    ------
    maskhog.cluster.ClusterError
        The cluster cannot be used (unreachable, no workers, another maskhog).

    Notes
    -----
    This process's malloc, and each worker's, is set to keep up to 64 MB of
    freed image buffers for the next image (:func:`maskhog.memory.keep_image_buffers`).
    """
    keep_image_buffers()
    if cluster is not None:
        from .cluster import connected, ordered_map

        with connected(cluster) as client:
            sent: deque = deque()

            def parts():
                for part in _chunks(items, chunk):
                    sent.append(part)
                    yield part

            for done in ordered_map(client, partial(_work_chunk, images=images), work, parts()):
                yield from _with_arrays(sent.popleft(), done, images)   # results come in input order
        return
    if jobs <= 1:
        for name, source in items:
            yield _do(name, source, work, True)
        return
    # forkserver: workers do not inherit this process's threads (OpenCV's pool, the
    # live loop's readers), which fork would copy in whatever state they were in.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                               initargs=(work, os.getpid()))
    pending: deque = deque()
    finished = False
    try:
        for part in _chunks(items, chunk):
            pending.append((part, pool.submit(_do_chunk, part, images)))
            # Two chunks per worker in flight: none waits, and memory stays bounded.
            while len(pending) >= 2 * jobs:
                part, future = pending.popleft()
                yield from _with_arrays(part, future.result(), images)
        while pending:
            part, future = pending.popleft()
            yield from _with_arrays(part, future.result(), images)
        finished = True
    finally:
        # Interrupted (Ctrl-C, SIGTERM, an error, a caller that stopped reading): drop the
        # queued chunks and do not wait for the running ones.
        pool.shutdown(wait=finished, cancel_futures=not finished)


def _chunks(items, size):
    part = []
    for item in items:
        part.append(item)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


def _do(name, source, work, keep) -> Done:
    if isinstance(source, ImageError):
        return Done(name, None, None, str(source))
    try:
        image = read_image(source) if isinstance(source, (str, os.PathLike, ImageBytes)) else source
    except ImageError as exc:
        return Done(name, None, None, str(exc))
    with about(name):   # a warning during the work names its input
        result = work(image)
    return Done(name, image if keep else None, result, None)


# ------------------------------------------------------------------ workers --

_work: Callable | None = None


def prepare_worker() -> None:
    """Set up a process that works beside others (a ``--jobs`` or Dask worker): one OpenCV
    thread, since the processes are the parallelism, and image buffers kept for the next image."""
    import cv2

    cv2.setNumThreads(1)
    keep_image_buffers()


def _start_worker(work, owner: int) -> None:
    """Set up one worker process: :func:`prepare_worker`, its work, Ctrl-C left to the
    parent, and a watch on the process that owns the pool."""
    global _work
    _work = work
    prepare_worker()
    to_stderr()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the owner stops us, after its own cleanup

    def watch():
        # An owner killed with SIGKILL runs no cleanup, and a worker's parent is the fork
        # server, which itself waits for its workers to go: without this watch, all would
        # wait for ever.
        while _alive(owner):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="maskhog-owner-watch").start()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:   # no /proc (macOS): the signal test is all there is
        return True


def _with_arrays(part, dones, images) -> list[Done]:
    """A worker's results, each with the image this process sent as an array (a video
    frame), which the worker did not send back."""
    if not images:
        return dones
    return [done._replace(image=source) if isinstance(source, np.ndarray) else done
            for (_, source), done in zip(part, dones)]


def _do_chunk(part, images) -> list[Done]:
    return _work_chunk(_work, part, images=images)


def _work_chunk(work, part, *, images) -> list[Done]:
    # An image sent here as an array is still in the sender's hands: not sent back.
    return [_do(name, source, work, images and not isinstance(source, np.ndarray)) for name, source in part]
