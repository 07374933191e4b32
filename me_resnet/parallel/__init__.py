"""Where and how many LOSO folds train at once, and how fast.

The method (what a fold trains, how a LOSO is evaluated) is in ``training`` and
``evaluation``, which import nothing from here; this package holds the speed code
behind ``evaluation.executor.Executor`` and ``training.model_source.ModelSource``,
which the caller builds and hands in (``build.make_executor``):

- ``executors``: this process with pinned threads, a process per fold, a pool of
  long-lived processes; ``ray_executor``: Ray tasks;
- ``engine_executor``, ``engine``, ``engine_state``, ``engine_steps``,
  ``stacked_model``, ``engine_choice``: the fold-parallel engine, every fold of a
  small model in one compiled step (docs/fold_parallel.md);
- ``compiled``: a compiled model kept from fold to fold in a process.
"""
