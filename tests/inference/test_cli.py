import pytest

from me_resnet.cli import SUBCOMMANDS
from me_resnet.cli import main as me_resnet
from me_resnet.cli.predict import main as predict
from me_resnet.cli.train import main as train
from tests.support.clips import blob_clip, write_clip


def test_train_and_predict_are_subcommands():
    assert SUBCOMMANDS["train"][0] == "me_resnet.cli.train"
    assert SUBCOMMANDS["predict"][0] == "me_resnet.cli.predict"


@pytest.mark.parametrize("command", [train, predict])
def test_help_exits_0(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        command(["--help"])
    assert exit_info.value.code == 0
    assert "usage: me-resnet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["clip", "--model", "m.keras", "--onset", "3"], "both --onset and --apex"),
        (["clip", "--model", "m.keras", "--window", "9", "2"], "START <= END"),
        (["clip"], "--model"),
        (["clip", "--model", "m.keras", "--figure", "x.jpg"], "PNG"),
    ],
)
def test_predict_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        predict(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_train_usage_errors_exit_2(capsys, monkeypatch):
    for name in ("ME_RESNET_CASME2", "ME_RESNET_SAMM", "ME_RESNET_SMIC"):
        monkeypatch.delenv(name, raising=False)
    assert train([]) == 2
    assert "no dataset given" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        train(["--demo", "--no_such_key", "1"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        train(["--demo", "--out", "model.h5"])
    assert ".keras" in capsys.readouterr().err


def test_predict_with_a_missing_model_exits_1_naming_it(tmp_path, capsys):
    clip = write_clip(tmp_path / "clip", blob_clip())
    assert me_resnet(["predict", str(clip), "--model", str(tmp_path / "absent.keras")]) == 1
    assert "absent.keras" in capsys.readouterr().err
