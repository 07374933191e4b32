"""The ``me-resnet`` command and the shared flags: help, exit statuses, typed-flag precedence, early errors."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from me_resnet import cli
from me_resnet.cli import common, table5
from me_resnet.data.demo import DATASET_MARKER
from me_resnet.evaluation import experiment
from me_resnet.models.registry import method_config
from tests.data.test_casme2 import ROWS as CASME2_ROWS
from tests.support.terminal import noise, run_command
from tests.support.tiny import tiny_features
from tests.support.trees import make_casme2

REPO = Path(__file__).resolve().parents[2]


def parse(argv, artifact="table5", **kwargs):
    parser = common.make_loso_parser("me-resnet test", "test")
    parser.add_argument("--precomputed-flow", type=Path)
    return common.parse(parser, artifact, argv, **kwargs)


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


LOSO_FLAGS = ("--seeds", "--folds", "--run-dir", "--early-stop-on", "--fer2013", "--executor", "--engine")


@pytest.mark.parametrize(
    "name, shown, absent",
    [
        ("table5", ("--demo", "--force", "--workers", *LOSO_FLAGS), ()),
        ("fig9", ("--values", "--cache-dir", *LOSO_FLAGS), ()),
        ("fig3", ("--demo", "--clip", "--cache-dir", "--workers"), ("--force", *LOSO_FLAGS)),
        ("table1", ("--demo", "--force", "--casme2"), ("--workers", "--cache-dir", *LOSO_FLAGS)),
    ],
)
def test_each_subcommand_lists_only_the_flags_it_uses(name, shown, absent, capsys):
    with pytest.raises(SystemExit):
        cli.main([name, "--help"])
    listed = capsys.readouterr().out
    assert all(flag in listed for flag in shown) and not [flag for flag in absent if flag in listed]


def test_every_command_module_is_a_registered_subcommand():
    helpers = {"__init__", "__main__", "common", "executor_flags", "loso"}  # shared flags and steps, not commands
    modules = {path.stem for path in Path(cli.__file__).parent.glob("*.py")} - helpers
    registered = {target.partition(":")[0].rsplit(".", 1)[-1] for target, _ in cli.SUBCOMMANDS.values()}
    assert modules - registered == set(), "command modules that `me-resnet` does not reach"


def test_usage_lists_the_subcommands_and_errors_exit_2(capsys):
    assert cli.main(["--help"]) == 0
    listed = capsys.readouterr().out
    for name in ("table5", "fig9", "fig10", "ablation", "leakage", "pretrain", "table1", "fig3", "datasets", "demo"):
        assert f"  {name} " in listed
    assert cli.main([]) == 2
    assert cli.main(["tabel5"]) == 2
    assert "unknown subcommand 'tabel5'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["table5", "--no-such-flag-value"])  # not --key value: a usage error
    assert exit_info.value.code == 2


def test_typed_flags_win_over_method_defaults_even_when_equal_to_the_profile(tmp_path):
    ctx = parse(["--out", str(tmp_path), "--epochs", "100", "--executor", "local"], needs_data=False)
    assert ctx.config.epochs == 100 == common.get_profile("paper").epochs
    assert "epochs" in ctx.explicit and "out" in ctx.typed and "executor" in ctx.typed
    assert method_config("ststnet", ctx.config, explicit=ctx.explicit).epochs == 100
    untyped = parse(["--out", str(tmp_path), "--executor", "local"], needs_data=False)
    assert "epochs" not in untyped.explicit and "seeds" not in untyped.typed
    assert method_config("ststnet", untyped.config, explicit=untyped.explicit).epochs == 800
    stop = parse(["--out", str(tmp_path), "--executor", "local", "--early-stop-on", "val"], needs_data=False)
    assert method_config("ststnet", stop.config, explicit=stop.explicit).early_stop_on == "val"


def test_a_config_key_is_not_taken_for_a_longer_flag(tmp_path):
    ctx = parse(["--out", str(tmp_path), "--executor", "local", "--seed", "4"], needs_data=False)
    assert ctx.config.seed == 4 and ctx.seeds == [0]


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--early_stop_on", "bogus"], "--early_stop_on"),
        (["--epochs", "0"], "--epochs"),
        (["--num_frames", "five"], "num_frames"),
        (["--engine", "fast"], "--engine"),
        (["--nonsense", "1"], "nonsense"),
    ],
)
def test_bad_values_are_usage_errors_before_any_data_work(flags, named, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(common, "ensure_demo_data", lambda: pytest.fail("data touched before the flags were checked"))
    with pytest.raises(SystemExit) as exit_info:
        parse(["--demo", "--out", str(tmp_path), *flags])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_precomputed_flow_with_equals_sign_counts_as_data(tmp_path, capsys):
    needs = lambda args: args.precomputed_flow is None  # noqa: E731
    ctx = parse([f"--precomputed-flow={tmp_path}", "--out", str(tmp_path), "--executor", "local"], needs_data=needs)
    assert ctx.args.precomputed_flow == tmp_path
    with pytest.raises(SystemExit) as exit_info:
        parse(["--out", str(tmp_path), "--executor", "local"], needs_data=needs)
    assert exit_info.value.code == 2 and "no dataset given" in capsys.readouterr().err


def test_a_bad_dataset_path_is_one_paragraph_and_status_2(tmp_path, capsys, monkeypatch):
    for name in ("ME_RESNET_CASME2", "ME_RESNET_SMIC", "ME_RESNET_SAMM", "ME_RESNET_FER2013"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        table5.main(["--casme2", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), "--no-pretraining"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "nowhere" in error and "Traceback" not in error


def fake_loaded(groups):
    records = [SimpleNamespace(dataset=dataset, subject=subject) for dataset, subject in (g.split("/") for g in groups)]
    by_dataset = {}
    for record in records:
        by_dataset.setdefault(record.dataset, SimpleNamespace(records=[], problems=[])).records.append(record)
    return by_dataset


def test_unknown_folds_stop_before_training_and_list_the_valid_names(tmp_path, capsys, monkeypatch):
    loaded = fake_loaded(["casme2/sub01", "casme2/sub02", "smic/s1", "smic/s2"])
    monkeypatch.setattr(experiment, "load_records", lambda *args, **kwargs: loaded)
    monkeypatch.setattr(experiment, "method_features", lambda *a, **k: pytest.fail("features computed"))
    base = ["--casme2", str(tmp_path), "--smic", str(tmp_path), "--out", str(tmp_path / "out"), "--executor", "local"]
    base += ["--no-pretraining"]
    with pytest.raises(SystemExit) as exit_info:
        table5.main([*base, "--folds", "casme2/sub1"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "casme2/sub1" in error and "casme2/sub01" in error and "smic/s1" in error
    with pytest.raises(SystemExit):
        table5.main([*base, "--folds", "7"])
    assert "no such fold" in capsys.readouterr().err


# Runs each argv through the ``me-resnet`` entry point in one process, then writes which heavy libraries got
# imported and which of the kit's settings changed (OpenCV's import amends LD_LIBRARY_PATH itself): help and
# usage errors must not load TensorFlow nor set its environment.
PARSE_ONLY = """
import json, os, sys
before = dict(os.environ)
from me_resnet import cli
for argv in json.loads(sys.argv[2]):
    try:
        cli.main(argv)
    except SystemExit:
        pass
loaded = [name for name in ("tensorflow", "keras", "torch", "jax", "sklearn", "matplotlib") if name in sys.modules]
changed = sorted(key for key in set(before) | set(os.environ) if before.get(key) != os.environ.get(key))
changed = [key for key in changed if key.startswith(("TF_", "KERAS_", "OMP_", "ME_RESNET_"))]
open(sys.argv[1], "w").write(json.dumps({"loaded": loaded, "changed": changed}))
"""
HELP_AND_USAGE_ERRORS = [
    *([name, "--help"] for name in cli.SUBCOMMANDS),
    ["table5", "--nosuchflag"],
    ["table5", "--epochs", "0"],
    ["table5", "--methods", "resnet"],
    ["fig9", "--engine", "fast"],
    ["table5"],  # no dataset given
    ["table5", "--casme2", "CASME2"],  # the paper pretrains ME-ResNet and no FER2013 is given
    ["predict", "clip", "--model", "m.keras", "--onset", "3"],
    ["train", "--demo", "--out", "model.h5"],
    ["pretrain", "--no_such_key", "1"],
]


def test_help_and_usage_errors_load_no_tensorflow_and_change_no_environment(tmp_path):
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-c", PARSE_ONLY, str(report), json.dumps(HELP_AND_USAGE_ERRORS)],
        cwd=REPO,
        env={key: value for key, value in os.environ.items() if not key.startswith("ME_RESNET_")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: me-resnet table5" in result.stdout and "nosuchflag" in result.stderr
    assert "no dataset given" in result.stderr and "both --onset and --apex" in result.stderr
    assert "no FER2013 data was given" in result.stderr
    assert json.loads(report.read_text()) == {"loaded": [], "changed": []}


def test_a_run_shows_no_tensorflow_start_up_lines(tmp_path):
    """A command that loads TensorFlow, as users run it (its own process, no log level set)."""
    casme2 = make_casme2(tmp_path / "casme2", CASME2_ROWS)
    result = run_command(["table1", "--casme2", casme2, "--out", tmp_path / "out"])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "table1_datasets.md").is_file()
    assert noise(result.stderr) == [], result.stderr


def test_a_baselines_run_asks_for_no_fer2013_and_says_it_trained_from_scratch(tmp_path, monkeypatch):
    """The paper never pretrained STSTNet or OFF-ApexNet: their runs neither need FER2013 nor call it a deviation."""
    from me_resnet.cli import loso
    from me_resnet.training import pretrain

    class Reached(Exception):
        """The run got past pretraining to its features."""

    def features(loaded, method, config, **kwargs):
        raise Reached(config)

    monkeypatch.delenv("ME_RESNET_FER2013", raising=False)
    monkeypatch.setattr(experiment, "load_records", lambda *args, **kwargs: fake_loaded(["casme2/sub01"]))
    monkeypatch.setattr(experiment, "method_features", features)
    monkeypatch.setattr(pretrain, "ensure_pretrained", lambda *args, **kwargs: pytest.fail("pretrained"))
    fer2013 = tmp_path / "fer2013.csv"
    fer2013.write_text("emotion,pixels,Usage\n")
    base = ["--casme2", str(tmp_path), "--out", str(tmp_path / "out"), "--executor", "local"]
    for methods in (["ststnet"], ["off_apexnet"], ["ststnet", "off_apexnet"]):
        for extra in ([], ["--fer2013", str(fer2013)]):
            with pytest.raises(Reached) as reached:
                table5.main([*base, "--methods", *methods, *extra])
            assert reached.value.args[0].pretrained is None
    ctx = parse(["--out", str(tmp_path), "--executor", "local"], needs_data=False)
    record = loso.Record()
    record.add(ctx, "ststnet", features=tiny_features(), config=method_config("ststnet", ctx.config))
    assert record.pretraining["ststnet"] == {"weights": None, "label": "trained from scratch, as in the paper"}


def test_the_demo_tree_holds_part_of_the_list_by_design_a_real_tree_reports_what_it_lacks(tmp_path, caplog):
    from me_resnet.cli import loso

    real = make_casme2(tmp_path / "real", CASME2_ROWS)
    demo = make_casme2(tmp_path / "demo", CASME2_ROWS)
    (demo / DATASET_MARKER).write_text("written by the demo generator\n")  # what marks a demo tree
    lines, loaded = {}, {}
    for name, root in (("real", real), ("demo", demo)):
        ctx = parse(["--casme2", str(root), "--out", str(tmp_path / "out"), "--executor", "local"])
        caplog.clear()
        with caplog.at_level("INFO", logger="me_resnet.cli.loso"):
            loaded[name] = loso.load(ctx)["casme2"]
        lines[name] = caplog.messages[-1]
    absent = loaded["real"].listed_absent
    assert absent and set(absent.values()) <= set(loaded["real"].problems)  # a real tree: each one a problem
    assert "by design" not in lines["real"] and f"{len(loaded['real'].problems)} problem(s)" in lines["real"]
    assert loaded["demo"].problems == [p for p in loaded["real"].problems if p not in absent.values()]
    held = loaded["demo"].listed - len(absent)
    assert f"demo data: {held} of the megc2019 list's 145 clips, by design" in lines["demo"]
    assert f"{len(loaded['demo'].problems)} problem(s)" in lines["demo"]


def test_the_paper_profile_asks_for_fer2013_or_an_explicit_opt_out(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ME_RESNET_FER2013", raising=False)
    monkeypatch.setattr(experiment, "load_records", lambda *a, **k: pytest.fail("data loaded before the check"))
    with pytest.raises(SystemExit) as exit_info:
        table5.main(["--casme2", str(tmp_path), "--out", str(tmp_path / "out"), "--executor", "local"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--fer2013" in error and "--no-pretraining" in error and "Traceback" not in error
    ctx = parse(["--out", str(tmp_path), "--executor", "local", "--no-pretraining"], needs_data=False)
    assert ctx.pretraining is False and ctx.fer2013 is None
    monkeypatch.setattr(common, "ensure_demo_data", lambda: tmp_path)
    demo = parse(["--demo", "--out", str(tmp_path)], needs_data=False)
    assert demo.pretraining is False  # demo runs pretrain only on a FER2013 given with --fer2013


def test_a_missing_coding_sheet_is_reported_with_the_flag_that_gives_it(tmp_path, capsys):
    """The library's error names its parameter (annotations=); the command's names its flag."""
    (tmp_path / "CASME2" / "CASME2_RAW_selected" / "sub01" / "EP02_01f").mkdir(parents=True)
    assert cli.main(["datasets", "--casme2", str(tmp_path / "CASME2")]) == 1
    out = capsys.readouterr().out
    assert "ERROR: no casme2 annotation file found" in out and "give --casme2-annotations FILE" in out
    assert "annotations=<xlsx>" not in out
    assert common.in_flags("no samm annotation file found in 'x'; pass annotations=<xlsx>").endswith(
        "give --samm-annotations FILE"
    )
    assert common.in_flags("something else; pass annotations=<xlsx>") == "something else; pass annotations=<xlsx>"
