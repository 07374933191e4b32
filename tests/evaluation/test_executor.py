"""evaluation/executor.py: the plain loop runs every job in order and hands each its model source."""

import pandas as pd

from me_resnet.evaluation.executor import Executor, LocalExecutor


class Job:
    """A stand-in FoldJob: records what it was run with."""

    def __init__(self, fold: int, seen: list):
        self.fold, self.group, self.seen = fold, f"casme2/{fold:03d}", seen

    def run(self, models=None):
        self.seen.append((self.fold, models))
        return pd.DataFrame({"fold": [self.fold]}), {"fold": self.fold}


def test_the_plain_loop_runs_the_jobs_in_order_with_its_model_source():
    seen, source = [], object()
    outcomes = LocalExecutor(models=source).run([Job(2, seen), Job(0, seen), Job(1, seen)], progress=False)
    assert [info["fold"] for _, info in outcomes] == [2, 0, 1] and seen == [(2, source), (0, source), (1, source)]
    assert LocalExecutor().run([], progress=False) == []
    seen.clear()
    LocalExecutor().run([Job(0, seen)], progress=False)
    assert seen == [(0, None)]  # no source: train_fold builds each fold's model afresh


def test_the_plain_loop_is_an_executor_that_trains_one_fold_at_a_time():
    executor: Executor = LocalExecutor()
    assert executor.parallel is False and callable(executor.run)
