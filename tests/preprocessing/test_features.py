"""extract_features and its per-clip cache (me_resnet/preprocessing/features.py, cache.py)."""

import dataclasses
import logging
import shutil

import cv2
import numpy as np
import pytest
import skimage.data

from me_resnet.config import Config
from me_resnet.data.records import ClipRecord
from me_resnet.preprocessing import flow
from me_resnet.preprocessing.features import extract_features

CONFIG = dataclasses.replace(Config(), num_frames=4, image_size=32, face_detector="center")


def _write_clip(root, subject, clip, label, frames=8, apex=5, seed=0):
    """A tiny clip on disk: the astronaut with one patch drifting right, plus noise."""
    rng = np.random.default_rng(seed)
    grey = cv2.resize(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY), (48, 40)).astype(np.float32)
    yy, xx = np.mgrid[0:40, 0:48].astype(np.float32)
    weight = ((np.abs(xx - 24) < 8) & (np.abs(yy - 18) < 6)).astype(np.float32)
    folder = root / subject / clip
    folder.mkdir(parents=True)
    paths, numbers = [], list(range(10, 10 + frames))
    for i, number in enumerate(numbers):
        shift = 0.5 * min(i, apex) * weight
        image = cv2.remap(grey, xx - shift, yy, cv2.INTER_LINEAR) + rng.normal(0, 1, grey.shape)
        path = folder / f"img{number}.jpg"
        cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8))
        paths.append(str(path))
    return ClipRecord(
        "casme2", subject, clip, tuple(paths), tuple(numbers), 10, 10 + apex, numbers[-1], "happiness", label
    )


@pytest.fixture
def clips(tmp_path):
    root = tmp_path / "data"
    return [_write_clip(root, "sub01", "EP01", 1, seed=1), _write_clip(root, "sub02", "EP02", 0, seed=2)]


@pytest.fixture
def count_farneback(monkeypatch):
    calls = []
    original = flow.farneback

    def counting(prev, next_, config):
        calls.append(1)
        return original(prev, next_, config)

    monkeypatch.setattr(flow, "farneback", counting)
    return calls


def _extract(clips, cache, config=CONFIG, kind="sequence"):
    return extract_features(clips, config, kind=kind, cache_dir=cache, workers=1, progress=False)


def test_shapes_labels_and_channels(clips, tmp_path):
    features = _extract(clips, tmp_path / "cache")
    assert features.X.shape == (2, 3, 32, 32, 3) and features.X.dtype == np.float32
    assert features.y.tolist() == [1, 0] and features.y.dtype == np.int64
    assert features.subjects.tolist() == ["sub01", "sub02"] and features.clips.tolist() == ["EP01", "EP02"]
    assert features.channels == ("u", "v", "strain")
    assert np.allclose(features.X[0].mean(axis=(0, 1, 2)), 0, atol=1e-5)  # per-clip z-score
    magnitude = _extract(clips, tmp_path / "cache", dataclasses.replace(CONFIG, channels="magnitude"))
    assert magnitude.channels == ("u", "v", "magnitude")
    apex = _extract(clips, tmp_path / "cache", kind="apex_flow")
    assert apex.X.shape == (2, 32, 32, 3)
    image = _extract(clips, tmp_path / "cache", dataclasses.replace(CONFIG, normalise="none"), kind="apex_image")
    assert image.X.shape == (2, 32, 32, 3) and image.channels == ("grey",) * 3
    assert 0 <= image.X.min() and image.X.max() <= 1 and image.X.max() > 0.5


def test_second_extraction_is_all_hits_and_identical(clips, tmp_path, count_farneback):
    first = _extract(clips, tmp_path / "cache")
    assert len(count_farneback) == 2 * 3 and first.info["cache_misses"] == 2
    second = _extract(clips, tmp_path / "cache")
    assert len(count_farneback) == 6  # no new Farneback call
    assert second.info["cache_hits"] == 2 and second.info["cache_misses"] == 0
    assert np.array_equal(first.X, second.X)
    assert first.info["cache_key"] == second.info["cache_key"]


def test_load_time_settings_compute_no_flow_but_n_does(clips, tmp_path, count_farneback):
    base = _extract(clips, tmp_path / "cache")
    for change in (
        {"scale_factor": 0.3},
        {"flow_mode": "vanilla"},
        {"channels": "magnitude"},
        {"normalise": "none"},
        {"mask_reading": "flow_difference"},
        {"mask_reading": "spatiotemporal"},
        {"mask_reading": "spatial", "mask_sigma": 0.05},
        {"mask_reading": "regional", "mask_regions": 2},
    ):
        swept = _extract(clips, tmp_path / "cache", dataclasses.replace(CONFIG, **change))
        assert swept.info["cache_hits"] == 2, change
        assert not np.array_equal(swept.X, base.X), change
    assert len(count_farneback) == 6
    longer = _extract(clips, tmp_path / "cache", dataclasses.replace(CONFIG, num_frames=5))
    assert longer.info["cache_misses"] == 2 and len(count_farneback) == 6 + 2 * 4
    assert longer.X.shape[1] == 4


def test_code_or_library_upgrade_gives_new_entries_never_old_ones(clips, tmp_path, monkeypatch, count_farneback):
    from me_resnet.preprocessing import cache as feature_cache

    first = _extract(clips, tmp_path / "cache")
    settings = feature_cache.settings_for_kind(CONFIG, "sequence")
    assert settings["preprocessing_version"] == feature_cache.PREPROCESSING_VERSION
    assert {"numpy", "cv2"} <= set(settings["libraries"])
    assert settings["libraries"]["numpy"] == np.__version__ and settings["libraries"]["cv2"] == cv2.__version__
    assert {"mtcnn", "tensorflow"} <= set(feature_cache.settings_for_kind(Config(), "sequence")["libraries"])
    monkeypatch.setattr(feature_cache, "PREPROCESSING_VERSION", feature_cache.PREPROCESSING_VERSION + 1)
    upgraded_code = _extract(clips, tmp_path / "cache")
    assert upgraded_code.info["cache_misses"] == 2 and upgraded_code.info["cache_key"] != first.info["cache_key"]
    real_versions = feature_cache.library_versions
    monkeypatch.setattr(feature_cache, "library_versions", lambda names: real_versions(names) | {"numpy": "99.0"})
    upgraded_numpy = _extract(clips, tmp_path / "cache")
    assert upgraded_numpy.info["cache_misses"] == 2
    assert len({first.info["cache_key"], upgraded_code.info["cache_key"], upgraded_numpy.info["cache_key"]}) == 3
    assert len(count_farneback) == 3 * 6 and len(list((tmp_path / "cache").rglob("*.npz"))) == 3 * 2


def test_an_edit_of_the_preprocessing_code_gives_new_entries(clips, tmp_path, monkeypatch):
    from me_resnet.preprocessing import cache as feature_cache
    from me_resnet.utils import fingerprint

    root = tmp_path / "me_resnet"
    shutil.copytree(fingerprint.PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    code = feature_cache.PREPROCESSING_CODE
    assert fingerprint.source_fingerprint(code, root) == feature_cache.preprocessing_fingerprint()
    names = [path.relative_to(root).as_posix() for path in fingerprint.source_files(code, root)]
    assert {"preprocessing/flow.py", "preprocessing/face.py", "utils/images.py"} <= set(names)
    first = _extract(clips, tmp_path / "cache")

    flow_module = root / "preprocessing" / "flow.py"
    reworded = flow_module.read_text().replace('"""', '"""Reworded. ', 1)  # the module docstring
    flow_module.write_text(reworded + "\n# a comment computes nothing\n")
    assert fingerprint.source_fingerprint(code, root) == feature_cache.preprocessing_fingerprint()
    flow_module.write_text(flow_module.read_text() + "\nEDITED = True  # an edit, not a version bump\n")
    edited = fingerprint.source_fingerprint(code, root)
    monkeypatch.setattr(feature_cache, "preprocessing_fingerprint", lambda: edited)
    again = _extract(clips, tmp_path / "cache")
    assert again.info["cache_misses"] == 2 and again.info["cache_key"] != first.info["cache_key"]
    (root / "reporting" / "tables.py").write_text("")  # code that computes no feature does not count
    assert fingerprint.source_fingerprint(code, root) == edited
    (root / "preprocessing" / "new_step.py").write_text("X = 1\n")  # a new module does
    assert fingerprint.source_fingerprint(code, root) != edited


def test_the_code_fingerprint_is_read_once_per_process():
    from me_resnet.preprocessing import cache as feature_cache
    from me_resnet.utils import fingerprint

    feature_cache.settings_for_kind(CONFIG, "sequence")
    reads = fingerprint._package_fingerprint.cache_info().misses
    for kind in ("sequence", "apex_flow", "apex_image"):
        feature_cache.settings_for_kind(CONFIG, kind)
    assert fingerprint._package_fingerprint.cache_info().misses == reads


def test_corrupt_cache_file_is_detected_and_recomputed(clips, tmp_path, caplog, count_farneback):
    cache = tmp_path / "cache"
    first = _extract(clips, cache)
    files = sorted(cache.rglob("*.npz"))
    assert len(files) == 2 and not list(cache.rglob("*.tmp"))
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])  # truncated
    with caplog.at_level(logging.WARNING, logger="me_resnet.preprocessing.cache"):
        second = _extract(clips, cache)
    assert "corrupt" in caplog.text and str(files[0]) in caplog.text
    assert second.info["cache_corrupt"] == 1 and second.info["cache_hits"] == 1
    assert len(count_farneback) == 6 + 3
    assert np.array_equal(first.X, second.X)
    # a flipped byte inside the flow array (zip still readable) is caught by the checksum
    data = bytearray(files[1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    files[1].write_bytes(bytes(data))
    third = _extract(clips, cache)
    assert third.info["cache_corrupt"] == 1 and np.array_equal(first.X, third.X)


def test_still_clip_and_repeated_frames_are_counted(tmp_path):
    record = _write_clip(tmp_path / "data", "sub03", "EP03", 2, frames=4, apex=0)  # apex == onset
    features = _extract([record], tmp_path / "cache")
    assert features.info["repeated_frame_clips"] == ["casme2/sub03/EP03"]
    assert features.fallbacks == {"face_not_found": [], "repeated_frames": ["casme2/sub03/EP03"]}
    assert np.all(np.isfinite(features.X)) and not features.X.any()  # zero flow, no NaN


def test_face_fallbacks_are_listed(clips, tmp_path):
    features = _extract(clips[:1], tmp_path / "cache", dataclasses.replace(CONFIG, face_detector="mtcnn"))
    assert features.info["face_fallbacks"] == ["casme2/sub01/EP01"]  # 48x40 frames hold no detectable face
    assert features.fallbacks["face_not_found"] == ["casme2/sub01/EP01"]
    assert features.info["face_detections"] == 1
    again = _extract(clips[:1], tmp_path / "cache", dataclasses.replace(CONFIG, face_detector="mtcnn"))
    assert again.info["face_fallbacks"] == ["casme2/sub01/EP01"] and again.info["face_detections"] == 0


def test_missing_frame_file_names_the_file(clips, tmp_path):
    missing = clips[0].frame_paths[0]
    (tmp_path / "data" / "sub01" / "EP01" / "img10.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="img10.jpg"):
        _extract(clips, tmp_path / "cache")
    assert missing.endswith("img10.jpg")


def test_bad_arguments(clips, tmp_path):
    with pytest.raises(ValueError, match="kind"):
        _extract(clips, tmp_path / "cache", kind="video")
    with pytest.raises(ValueError, match="flow_mode"):
        _extract(clips, tmp_path / "cache", dataclasses.replace(CONFIG, flow_mode="better"))
    with pytest.raises(ValueError, match="at least one"):
        _extract([], tmp_path / "cache")


def test_worker_processes_give_the_same_features(clips, tmp_path):
    serial = _extract(clips, tmp_path / "serial")
    parallel = extract_features(clips, CONFIG, cache_dir=tmp_path / "parallel", workers=2, progress=False)
    assert parallel.info["cache_misses"] == 2 and len(list((tmp_path / "parallel").rglob("*.npz"))) == 2
    assert np.array_equal(serial.X, parallel.X)


def test_flow_maps_for_the_figure(clips, tmp_path):
    from me_resnet.preprocessing.features import flow_maps

    result = flow_maps(clips[0], CONFIG, tmp_path / "cache")
    maps = result["maps"]
    assert set(maps) == {"apex", "vanilla_strain", "improved_strain", "vanilla_magnitude", "improved_magnitude"}
    assert all(m.shape == (32, 32) for m in maps.values())
    assert np.all(maps["improved_magnitude"] <= maps["vanilla_magnitude"] + 1e-6)
    assert 0 < result["energy_removed"] < 1 and 0 < result["pixels_kept"] < 1


def test_an_entry_keeps_the_crop_box_and_its_rotation(clips):
    """The box and the angle the frames were cropped with: enough to map frame-sized data onto the crop."""
    from me_resnet.preprocessing.face import FaceBox
    from me_resnet.preprocessing.features import compute_entry

    entry, _ = compute_entry(clips[0], CONFIG, "sequence", face=(FaceBox(2, 0, 42, 40, 5.0), True))
    assert entry["box"].tolist() == [2, 0, 42, 40] and float(entry["angle"]) == 5.0
    level, _ = compute_entry(clips[0], CONFIG, "apex_image", face=((2, 0, 42, 40), True))
    assert float(level["angle"]) == 0.0


def test_entries_computed_ahead_are_the_ones_extraction_would_compute(clips, tmp_path, count_farneback):
    """``missing_entries`` + ``compute_entries`` (work done ahead, e.g. while a LOSO trains) fill the cache
    that ``extract_features`` reads: it then computes nothing, and gives the features it would have."""
    from me_resnet.preprocessing.features import compute_entries, missing_entries

    cache = tmp_path / "ahead"
    jobs = missing_entries(clips, CONFIG, "sequence", cache)
    assert [record.key for _, record, _ in jobs] == [clip.key for clip in clips]
    assert compute_entries(jobs, CONFIG, "sequence", workers=1) == 2 and len(count_farneback) == 6
    assert missing_entries(clips, CONFIG, "sequence", cache) == []
    ahead = _extract(clips, cache)
    assert ahead.info["cache_hits"] == 2 and len(count_farneback) == 6
    assert np.array_equal(ahead.X, _extract(clips, tmp_path / "plain").X)


def test_a_stopped_computation_starts_no_clip_and_keeps_what_it_cached(clips, tmp_path):
    import threading

    from me_resnet.preprocessing.features import compute_entries, missing_entries

    stop = threading.Event()
    stop.set()
    jobs = missing_entries(clips, CONFIG, "sequence", tmp_path / "cache")
    assert compute_entries(jobs, CONFIG, "sequence", workers=1, stop=stop) == 0
    assert compute_entries(jobs[:1], CONFIG, "sequence", workers=1) == 1
    assert [record.key for _, record, _ in missing_entries(clips, CONFIG, "sequence", tmp_path / "cache")] == [
        clips[1].key
    ]


def test_background_workers_run_below_the_callers_priority():
    """The ``niceness`` of ``compute_entries``: its worker processes start ``niceness`` steps lower."""
    import concurrent.futures
    import multiprocessing
    import os

    from me_resnet.preprocessing.features import _lower_priority

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        1, mp_context=context, initializer=_lower_priority, initargs=(3,)
    ) as pool:
        assert pool.submit(os.nice, 0).result() == os.nice(0) + 3
