"""parallel/build.py: make_executor builds the executor a name asks for, checks its options by parameter
name, and wraps the fold-parallel engine around it unless the engine is per-fold."""

import pytest

from me_resnet.parallel.build import make_executor
from me_resnet.parallel.engine_executor import FoldParallelExecutor
from me_resnet.parallel.executors import InProcessExecutor, PoolExecutor


def test_executor_options_are_checked_and_named_as_parameters():
    with pytest.raises(ValueError, match=r"gpus_per_fold=1 are options of the 'ray' executor, not of 'local'"):
        make_executor("local", gpus_per_fold=1)
    with pytest.raises(ValueError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        make_executor("local", engine="fast")
    local = make_executor("local", engine="per-fold")
    assert type(local) is InProcessExecutor and local.threads is None
    assert make_executor("local", cpus_per_fold=2, engine="per-fold").threads == 2
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        InProcessExecutor(threads=0)
    pool = make_executor("pool", workers=3, engine="per-fold")
    assert isinstance(pool, PoolExecutor) and pool.workers == 3 and pool.worker_threads == 1 and pool.parallel
    assert make_executor("pool", cpus_per_fold=2, engine="per-fold").worker_threads == 2
    with pytest.raises(ValueError, match="workers=2 is an option of the 'pool' executor, not of 'local'"):
        make_executor("local", workers=2)
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        PoolExecutor(workers=0)


def test_the_engine_wraps_the_executor_unless_per_fold():
    """auto / fold-parallel: the fold-parallel engine takes the small models' runs, the executor the rest."""
    wrapped = make_executor("local", cpus_per_fold=2)
    assert isinstance(wrapped, FoldParallelExecutor) and wrapped.engine == "auto" and wrapped.threads == 2
    assert type(wrapped.fallback) is InProcessExecutor and wrapped.parallel is False
    pool = make_executor("pool", workers=2, engine="fold-parallel")
    assert isinstance(pool.fallback, PoolExecutor) and pool.parallel is True and pool.threads is None
    assert type(make_executor("local", engine="per-fold")) is InProcessExecutor
