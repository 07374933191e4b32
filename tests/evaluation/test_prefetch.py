"""``FeaturePrefetch``: the next method's features computed in the background, equal to computing them later."""

import dataclasses
import logging
import os

import numpy as np

from me_resnet.config import DEMO
from me_resnet.data.common import LoadResult
from me_resnet.evaluation.experiment import RunOptions, method_features
from me_resnet.evaluation.prefetch import FeaturePrefetch
from tests.preprocessing.test_features import _write_clip

CONFIG = dataclasses.replace(DEMO, face_detector="center")  # no MTCNN for 48x40 test frames
KEEP = {"explicit": ("face_detector",), "demo": True}  # the method's demo settings, but this face_detector


def _loaded(tmp_path) -> dict:
    records = [_write_clip(tmp_path / "data", f"sub0{k}", f"EP0{k}", k % 3, seed=k) for k in (1, 2, 3)]
    return {"casme2": LoadResult("casme2", records)}


def test_prefetched_features_are_cache_hits_equal_to_plain_extraction(tmp_path):
    loaded = _loaded(tmp_path)
    ahead = RunOptions(cache_dir=tmp_path / "ahead", workers=1)
    prefetch = FeaturePrefetch(loaded, "ststnet", CONFIG, options=ahead, **KEEP)
    prefetch.wait()
    assert prefetch.error is None and prefetch.computed == 3
    features, _ = method_features(loaded, "ststnet", CONFIG, options=ahead, **KEEP)
    assert features.info["cache_hits"] == 3 and features.info["cache_misses"] == 0
    plain, _ = method_features(loaded, "ststnet", CONFIG, options=RunOptions(cache_dir=tmp_path / "plain"), **KEEP)
    assert np.array_equal(features.X, plain.X)


def test_a_failed_prefetch_is_logged_not_raised(tmp_path, caplog):
    loaded = _loaded(tmp_path)
    os.remove(loaded["casme2"].records[1].frame_paths[0])  # an unreadable clip
    options = RunOptions(cache_dir=tmp_path / "cache", workers=1)
    with caplog.at_level(logging.INFO, logger="me_resnet.evaluation.prefetch"):
        prefetch = FeaturePrefetch(loaded, "ststnet", CONFIG, options=options, **KEEP)
        prefetch.cancel()  # returns: nothing is running
    assert isinstance(prefetch.error, FileNotFoundError) and prefetch.computed == 0
    assert "prefetch of ststnet features stopped" in caplog.text
