"""The next method's features computed while this method trains: ``FeaturePrefetch``.

A script that runs several methods one after another (``table5``: ME-ResNet, then the
baselines) extracts each method's features only when its turn comes, although the
CPU is not saturated while a LOSO trains (folds end unevenly, workers wait on
their last fold). ``FeaturePrefetch`` fills those gaps: a background thread
computes the next method's missing cache entries (``preprocessing.features.compute_entries``)
in worker processes that run at a lower priority, so the training keeps the CPU it
uses and the prefetch takes the rest. The method's ``experiment.method_features``
call then finds its features in the cache; the result is the same either way
(the cache is the one ``extract_features`` fills, keyed by the same settings).

    prefetch = FeaturePrefetch(loaded, "ststnet", config, options=options, demo=True)
    predictions = run_method(features, "me_resnet", config, options=options)  # meanwhile
    prefetch.wait()
    features, ststnet_config = method_features(loaded, "ststnet", config, options=options, demo=True)

A failed prefetch is logged and forgotten: the later ``method_features`` computes
what is missing and reports the error itself.
"""

from __future__ import annotations

import logging
import os
import threading

from me_resnet.config import Config
from me_resnet.models.registry import get_method, method_config
from me_resnet.preprocessing.face import get_detector
from me_resnet.preprocessing.features import compute_entries, missing_entries

log = logging.getLogger(__name__)

NICENESS = 10  # the prefetch workers' priority below the training's: ~1/10 of a core when both want it


def _lower_thread_priority(niceness: int) -> None:
    """This thread ``niceness`` steps below the process (Linux schedules threads one by one; elsewhere a no-op)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


class FeaturePrefetch:
    """Caches ``method``'s features of the records of ``loaded`` in a background thread, at low priority.

    Arguments as ``experiment.method_features``'s (``options``: an ``experiment.RunOptions``,
    whose ``cache_dir`` and ``workers`` it uses). ``wait()`` before that call; ``cancel()``
    stops it early (what it cached stays cached), e.g. when the run it overlaps fails.
    """

    def __init__(self, loaded: dict, method: str, config: Config, *, options, explicit=(), demo: bool = False):
        self.method = method
        self.computed = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        records = [record for result in loaded.values() for record in result.records]
        method_cfg = method_config(method, config, explicit=explicit, demo=demo)
        kind = get_method(method).feature_kind
        try:
            jobs = missing_entries(records, method_cfg, kind, options.cache_dir)  # quick: reads the cache
            if jobs and method_cfg.face_detector == "mtcnn":
                get_detector()  # built in this thread, under its Keras settings, not in the background one
        except Exception as error:  # e.g. an unreadable frame: the method's own extraction reports it
            self._stopped(error)
            jobs = []

        def work():
            _lower_thread_priority(NICENESS)
            try:
                self.computed = compute_entries(
                    jobs, method_cfg, kind, options.workers, niceness=NICENESS, stop=self._stop
                )
            except Exception as error:  # the method's own extraction repeats the work and reports it
                self._stopped(error)

        self._thread = threading.Thread(target=work, name=f"prefetch-{method}", daemon=True)
        self._thread.start()

    def _stopped(self, error: BaseException) -> None:
        self.error = error
        log.info("prefetch of %s features stopped: %s (computed when %s runs)", self.method, error, self.method)

    def wait(self) -> None:
        """Block until the prefetch has finished (or stopped)."""
        self._thread.join()

    def cancel(self) -> None:
        """Stop starting clips and wait for the ones running (each cached when done)."""
        self._stop.set()
        self._thread.join()
