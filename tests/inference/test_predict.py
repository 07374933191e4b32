import dataclasses
import json

import numpy as np
import pytest

from me_resnet.cli import main as me_resnet
from me_resnet.config import DEMO
from me_resnet.data.records import CLASS_NAMES, ClipRecord
from me_resnet.inference.explain import explain_figure, last_cbam_attention
from me_resnet.inference.predict import predict_clip
from me_resnet.inference.video import open_clip, write_video
from me_resnet.preprocessing import face
from me_resnet.preprocessing.features import extract_features
from me_resnet.training.final_model import model_card_for, train_final_model
from me_resnet.training.model_card import SYNTHETIC, card_path, load_model_with_card, save_model_with_card
from tests.support.clips import blob_clip, tiny_cbam_build, write_clip
from tests.support.terminal import noise, run_command

TINY_SEQUENCE = dataclasses.replace(
    DEMO,
    face_detector="center",
    num_frames=3,
    image_size=16,
    epochs=1,
    batch_size=4,
    early_stop_on="none",
    seed=0,
)
SHIFTS = {0: (4.0, 0.0), 1: (0.0, -4.0), 2: (-4.0, 0.0)}


def _records(root, subjects=2):
    records = []
    for subject in range(subjects):
        for label, shift in SHIFTS.items():
            frames = blob_clip(motion=8, apex=4, shift=shift, seed=10 * subject + label)
            folder = write_clip(root / f"s{subject}" / f"c{label}", frames, first_number=1)
            numbers = tuple(range(1, len(frames) + 1))
            paths = tuple(str(folder / f"img{n}.png") for n in numbers)
            records.append(ClipRecord("casme2", f"s{subject}", f"c{label}", paths, numbers, 1, 5, 8, "x", label))
    return records


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    features = extract_features(_records(root), TINY_SEQUENCE, "sequence", root / "cache", 1, False)
    final = train_final_model(features, TINY_SEQUENCE, build_fn=tiny_cbam_build)
    card = model_card_for(final, features, TINY_SEQUENCE, "sequence", results_dir=None)
    path, _ = save_model_with_card(final.model, card, root / "model" / "tiny.keras")
    model, card = load_model_with_card(path)
    return path, features, model, card


def test_train_then_predict_on_a_frame_folder_uses_the_training_preprocessing(trained, tmp_path):
    path, features, model, card = trained
    clip = write_clip(tmp_path / "mine", blob_clip(motion=8, apex=4, before=6, after=6, shift=(4.0, 0.0), seed=0))
    prediction = predict_clip(open_clip(clip), model, card, progress=False)
    assert prediction.spotted and abs(prediction.apex - (1 + 6 + 4)) <= 1
    assert prediction.model_input.shape == tuple(card["input"]["shape"]) == features.X.shape[1:]
    assert prediction.probabilities.shape == (len(CLASS_NAMES),)
    assert prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert prediction.to_dict()["onset_apex_source"] == "spotted"
    # given onset/apex of a training clip: the model input equals its training features, standardised
    given = predict_clip(open_clip(path.parent.parent / "s0" / "c0"), model, card, onset=1, apex=5, progress=False)
    mean, std = (np.asarray(card["standardisation"][k], np.float32) for k in ("mean", "std"))
    np.testing.assert_allclose(given.model_input, (features.X[0] - mean) / std, atol=1e-5)
    assert given.key_frames == (1, 3, 5) and not given.spotted
    figure = explain_figure(prediction, model, card, tmp_path / "why.png")
    assert figure.stat().st_size > 10_000
    attention = last_cbam_attention(model, prediction.model_input)
    assert attention.ndim == 2 and np.all((attention >= 0) & (attention <= 1))


def test_predict_reads_a_video(trained, tmp_path):
    _, _, model, card = trained
    frames = blob_clip(motion=8, apex=4, before=5, after=5, shift=(0.0, -4.0), seed=4)
    video = write_video(np.repeat(frames[..., None], 3, axis=-1), tmp_path / "clip.avi", fps=30)
    source = open_clip(video)
    assert source.kind == "video" and len(source) == len(frames)
    prediction = predict_clip(source, model, card, progress=False)
    assert abs(prediction.apex - (5 + 4)) <= 1 and prediction.onset < prediction.apex


def test_clip_shorter_than_the_key_frames_is_refused(trained, tmp_path):
    _, _, model, card = trained
    clip = write_clip(tmp_path / "short", blob_clip(motion=8, apex=4)[:2])
    with pytest.raises(ValueError, match=r"has 2 frame\(s\); the model needs 3 key frames"):
        predict_clip(open_clip(clip), model, card, progress=False)


def test_short_onset_apex_span_repeats_frames_and_says_so(trained, tmp_path):
    _, _, model, card = trained
    clip = write_clip(tmp_path / "clip", blob_clip(motion=8, apex=4))
    prediction = predict_clip(open_clip(clip), model, card, onset=2, apex=3, progress=False)
    assert prediction.key_frames == (2, 3, 3)
    assert any("nearest frames repeated" in warning for warning in prediction.warnings)


def test_the_command_says_a_warning_once_and_no_start_up_lines(trained, tmp_path):
    """As users run it (a process of its own): the repeated-frames warning on stdout, not also in the log."""
    path, *_ = trained
    clip = write_clip(tmp_path / "clip", blob_clip(motion=8, apex=4))
    result = run_command(["predict", clip, "--model", path, "--onset", 2, "--apex", 3])
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert output.count("nearest frames repeated") == 1 and "warning: only 2 frames" in result.stdout, output
    assert "distinct frames" not in output and "input/input" not in output  # no internal record name
    assert noise(result.stderr) == [], result.stderr


def test_no_face_found_falls_back_to_the_centre_crop_and_records_it(trained, tmp_path, monkeypatch):
    _, _, model, card = trained
    card = json.loads(json.dumps(card))  # a copy: the fixture's card stays as trained
    card["config"]["face_detector"] = "mtcnn"
    monkeypatch.setattr(face, "detect_faces", lambda images, batch_size=16: [None] * len(images))
    clip = write_clip(tmp_path / "clip", blob_clip(motion=8, apex=4, size=40))
    prediction = predict_clip(open_clip(clip), model, card, onset=1, apex=5, progress=False)
    assert not prediction.face_found and prediction.face_box == (0, 0, 40, 40)
    assert any("no face found" in warning for warning in prediction.warnings)
    assert prediction.to_dict()["face_found"] is False


def test_onset_without_apex_is_refused(trained, tmp_path):
    _, _, model, card = trained
    clip = write_clip(tmp_path / "clip", blob_clip())
    with pytest.raises(ValueError, match="both onset and apex"):
        predict_clip(open_clip(clip), model, card, onset=1, progress=False)
    with pytest.raises(ValueError, match="apex frame 2 must come after onset frame 5"):
        predict_clip(open_clip(clip), model, card, onset=5, apex=2, progress=False)


def _synthetic_copy(path, folder):
    """The fixture's model with a card that says it learnt the synthetic demo data."""
    folder.mkdir()
    copy = folder / path.name
    copy.write_bytes(path.read_bytes())
    card = json.loads(card_path(path).read_text())
    card["data"] = {"kind": SYNTHETIC, "roots": {"casme2": {"path": "/demo/casme2", "synthetic": True}}}
    card_path(copy).write_text(json.dumps(card))
    return copy


def test_a_model_of_synthetic_data_says_so_in_the_terminal_the_json_and_the_figure(trained, tmp_path, capsys):
    path, *_ = trained
    model_path = _synthetic_copy(path, tmp_path / "model")
    clip = write_clip(tmp_path / "mine", blob_clip(motion=8, apex=4, before=6, after=6, shift=(4.0, 0.0), seed=0))
    out = tmp_path / "prediction.json"
    assert me_resnet(["predict", str(clip), "--model", str(model_path), "--json", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("NOTICE: this model learnt synthetic demo data only") and "(see NOTICE above)" in printed
    assert "offset" in printed and "confidence" in printed
    document = json.loads(out.read_text())
    assert document["model_data"] == SYNTHETIC and "synthetic demo data only" in document["notice"]
    assert document["offset"] > document["apex"] > document["onset"] and document["spotting"]["stands_out"]
    assert {"confidence", "message", "offset"} <= set(document["spotting"])
    _, card = load_model_with_card(model_path)
    model, _ = load_model_with_card(path)
    prediction = predict_clip(open_clip(clip), model, card, progress=False)
    figure = explain_figure(prediction, model, card, tmp_path / "why.png")
    assert figure.stat().st_size > 10_000 and prediction.notice == document["notice"]


def test_a_model_of_real_data_has_no_notice_and_a_still_clip_has_no_episode(trained, tmp_path):
    _, _, model, card = trained
    card = json.loads(json.dumps(card)) | {"data": {"kind": "real datasets", "roots": {}}}
    still = write_clip(tmp_path / "still", blob_clip(motion=8, apex=4, shift=(0.0, 0.0), before=10, seed=3))
    prediction = predict_clip(open_clip(still), model, card, progress=False)
    document = prediction.to_dict()
    assert document["notice"] is None and document["model_data"] == "real datasets"
    assert not document["spotting"]["stands_out"]
    assert any(warning.startswith("no episode stands out") for warning in prediction.warnings)
