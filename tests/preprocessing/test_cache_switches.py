"""The feature cache key covers face alignment and the flow method (preprocessing/cache.py settings_for_kind)."""

import dataclasses

from me_resnet.config import Config
from me_resnet.preprocessing.cache import settings_hash


def test_face_align_and_flow_method_change_the_cache_key():
    config = Config()
    for kind in ("sequence", "apex_flow", "apex_image"):
        assert settings_hash(dataclasses.replace(config, face_align=False), kind) != settings_hash(config, kind)
    for kind in ("sequence", "apex_flow"):
        assert settings_hash(dataclasses.replace(config, flow_method="tvl1"), kind) != settings_hash(config, kind)
    assert settings_hash(dataclasses.replace(config, flow_method="tvl1"), "apex_image") == settings_hash(
        config, "apex_image"
    )  # no flow in an image entry
    centre = dataclasses.replace(config, face_detector="center")  # no landmarks, nothing to align
    assert settings_hash(dataclasses.replace(centre, face_align=False), "sequence") == settings_hash(centre, "sequence")
    tvl1 = dataclasses.replace(config, flow_method="tvl1")  # Farneback's parameters do not touch TV-L1 entries
    assert settings_hash(dataclasses.replace(tvl1, farneback_winsize=9), "sequence") == settings_hash(tvl1, "sequence")
