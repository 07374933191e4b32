"""TensorFlow's settings and start-up noise (me_resnet/utils/quiet.py)."""

import logging
import os

from me_resnet.utils import quiet


def test_the_settings_default_to_onednn_on_and_no_log_unless_verbose_and_what_is_set_wins(monkeypatch):
    for name in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    assert quiet.tensorflow_environment() == {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    assert quiet.tensorflow_environment(verbose=True)["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    quiet.prepare_environment(verbose=True)
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0" and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_native_stderr_is_silenced_inside_the_block_and_whole_after_it(capfd):
    os.write(2, b"before\n")
    with quiet.native_stderr_silenced():
        os.write(2, b"native start-up line\n")
    os.write(2, b"after\n")
    with quiet.native_stderr_silenced():  # again: fd 2 was restored, never closed
        pass
    os.write(2, b"still open\n")
    assert capfd.readouterr().err == "before\nafter\nstill open\n"


def test_retracing_warnings_between_folds_are_dropped_once_however_often_asked(caplog):
    quiet.silence_retracing_warnings()
    quiet.silence_retracing_warnings()
    logger = logging.getLogger("tensorflow")
    assert sum(isinstance(f, quiet._QuietRetracing) for f in logger.filters) == 1
    with caplog.at_level("WARNING"):
        logger.warning("5 out of the last 5 calls to <function f> triggered tf.function retracing. Tracing is ...")
        logger.warning("something else")
    assert [record.getMessage() for record in caplog.records] == ["something else"]
