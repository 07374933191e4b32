"""The executor flags every LOSO command shares (me_resnet/cli/executor_flags.py): choices and their checks."""

import argparse

import pytest

from me_resnet.cli import executor_flags


@pytest.fixture
def parser():
    parser = argparse.ArgumentParser(prog="me-resnet test")
    executor_flags.add_executor_options(parser)
    return parser


def name_for(parser, argv, profile="demo"):
    return executor_flags.executor_name(parser, parser.parse_args(argv), profile)


def test_auto_is_a_process_per_fold_for_the_paper_and_a_pool_for_the_demo(parser, monkeypatch):
    assert name_for(parser, [], "paper") == "process"
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert name_for(parser, []) == "pool"
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert name_for(parser, []) == "local"
    assert name_for(parser, ["--executor", "local"], "paper") == "local"  # a chosen executor is kept


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--executor", "local", "--pool-workers", "2"], "--pool-workers needs --executor pool"),
        (["--executor", "pool", "--gpus-per-fold", "0.5"], "--ray-address / --gpus-per-fold need --executor ray"),
        (["--executor", "process", "--ray-address", "auto"], "--ray-address / --gpus-per-fold need --executor ray"),
    ],
)
def test_flags_of_another_executor_exit_2_naming_the_flag(parser, argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        name_for(parser, argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
