"""Demo data generator (SPEC §8): official layouts, determinism, localised class motion, loaders read it."""

import json
import zipfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from me_resnet.data import demo, demo_faces
from me_resnet.data.records import CLASS_NAMES


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_seed0")
    demo.generate_demo(out, seed=0)
    return out


@pytest.fixture(scope="module")
def expected_clips() -> pd.DataFrame:
    return demo.select_demo_clips()


def test_same_seed_gives_identical_bytes_and_other_seed_differs(demo_dir, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    demo.generate_demo(again, seed=0)
    demo.generate_demo(other, seed=1)
    first = _tree_bytes(demo_dir)
    assert first == _tree_bytes(again)  # every frame, both xlsx, the csv, the marker
    second = _tree_bytes(other)
    for sheet in ("casme2/CASME2-coding-20190701.xlsx", "samm/SAMM_Micro_FACS_Codes_v2.xlsx", "fer2013/fer2013.csv"):
        assert first[sheet] != second[sheet]
    assert {k for k in first if k.endswith(".jpg")} != {k for k in second if k.endswith(".jpg")}


def test_xlsx_have_fixed_timestamps(demo_dir):
    for sheet in ("casme2/CASME2-coding-20190701.xlsx", "samm/SAMM_Micro_FACS_Codes_v2.xlsx"):
        with zipfile.ZipFile(demo_dir / sheet) as archive:
            assert {info.date_time for info in archive.infolist()} == {(2019, 7, 1, 0, 0, 0)}
            core = archive.read("docProps/core.xml").decode()
        assert core.count("2019-07-01T00:00:00Z") == 2, core  # created and modified


def test_clips_are_real_megc2019_rows_with_balanced_classes(expected_clips):
    megc = pd.read_csv(demo.MEGC_LIST, header=None, names=["dataset", "subject", "clip", "label"], dtype=str)
    listed = {tuple(v.strip() for v in row) for row in megc.itertuples(index=False)}
    for row in expected_clips.itertuples(index=False):
        assert (row.dataset, row.subject, row.clip, str(row.label)) in listed
    for dataset, part in expected_clips.groupby("dataset"):
        assert part.subject.nunique() == 5
        shares = part.label.value_counts(normalize=True)
        assert set(shares.index) == {0, 1, 2} and shares.min() >= 0.25, (dataset, shares.to_dict())


def test_casme2_layout_and_quirks(demo_dir, expected_clips):
    sheet = openpyxl.load_workbook(demo_dir / "casme2" / "CASME2-coding-20190701.xlsx")["Sheet1"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "Subject",
        "Filename",
        None,
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        None,
        "Action Units",
        "Estimated Emotion",
        "Objective Classes",
    )
    body = rows[1:]
    assert len(body) == (expected_clips.dataset == "casme2").sum()
    assert all(isinstance(r[0], str) and len(r[0]) == 2 for r in body)  # text '02', as in the real sheet
    assert [r[1] for r in body if r[4] == "/"] == [demo.CASME_BAD_APEX[1]]
    assert min(r[3] for r in body) > 1  # frames start mid-video, not at 0/1
    subject, clip = demo.CASME_UNLISTED_FOLDER
    assert (demo_dir / "casme2" / "CASME2_RAW_selected" / subject / clip).is_dir()
    assert clip not in {r[1] for r in body}
    for r in body:
        folder = demo_dir / "casme2" / "CASME2_RAW_selected" / f"sub{r[0]}" / r[1]
        assert sorted(int(p.stem[3:]) for p in folder.glob("img*.jpg")) == list(range(r[3], r[5] + 1))
        emotion_class = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}[r[8]]
        assert ((expected_clips["clip"] == r[1]) & (expected_clips.label == emotion_class)).any()


def test_samm_layout_and_quirks(demo_dir):
    workbook = openpyxl.load_workbook(demo_dir / "samm" / "SAMM_Micro_FACS_Codes_v2.xlsx")
    assert workbook.sheetnames == ["MICRO_ONLY"]
    rows = list(workbook["MICRO_ONLY"].iter_rows(values_only=True))
    assert rows[13] == (
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Micro",
        "Action Units",
        "Estimated Emotion",
        "Objective Classes",
        "Notes",
    )
    assert rows[0][0].startswith("SAMM") and all(r[1:] == (None,) * 11 for r in rows[:13])
    body = rows[14:]
    assert all(isinstance(r[0], int) for r in body)  # 6 for folder 006
    bad = [r for r in body if r[4] > r[5]]
    assert [r[1] for r in bad] == [demo.SAMM_BAD_APEX[1]]
    widths = {p.parent.parent.name: len(p.stem.split("_")[1]) for p in (demo_dir / "samm" / "SAMM").glob("*/*/*.jpg")}
    assert widths["006"] == 5 and widths["014"] == 4
    frame = cv2.imread(str(next((demo_dir / "samm" / "SAMM" / "006").glob("*/*.jpg"))), cv2.IMREAD_UNCHANGED)
    assert frame.ndim == 2  # grayscale, as SAMM


def test_smic_and_fer2013_layouts(demo_dir, expected_clips):
    hs = demo_dir / "smic" / "SMIC_all_cropped" / "HS"
    assert sorted(p.name for p in hs.iterdir()) == sorted(f"s{int(s[1:])}" for s in demo.DEMO_SUBJECTS["smic"])
    clips = sorted(p.name for p in hs.glob("*/micro/*/*"))
    expected = sorted(f"s{int(c[1:3])}{c[3:]}" for c in expected_clips[expected_clips.dataset == "smic"]["clip"])
    assert clips == expected
    for folder in hs.glob("*/micro/*/*"):
        short = {"negative": "ne", "positive": "po", "surprise": "sur"}[folder.parent.name]
        assert folder.name.split("_")[1] == short
        names = [p.name for p in folder.iterdir()]
        assert all(len(n) == len("reg_image000123.bmp") and n.startswith("reg_image") for n in names)
    fer = pd.read_csv(demo_dir / "fer2013" / "fer2013.csv")
    assert list(fer.columns) == ["emotion", "pixels", "Usage"]
    assert set(fer.emotion) == set(range(7))
    assert list(dict.fromkeys(fer.Usage)) == ["Training", "PublicTest", "PrivateTest"]
    assert all(len(p.split()) == 48 * 48 for p in fer.pixels)


def _apex_difference(label: int) -> tuple[np.ndarray, np.ndarray, demo_faces.Landmarks]:
    """Noise-free onset and apex frames of one clip, as grey float."""
    portrait, marks = demo_faces.make_portrait(demo_faces.Look("grace_hopper", framing=3.6), 128)
    frames = demo_faces.render_clip(
        portrait,
        marks,
        label,
        21,
        8,
        np.random.default_rng(0),
        amplitude=0.08 * marks.interocular,
        noise_sigma=0.0,
        flicker=0.0,
    )
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (frames[0], frames[8])]
    return grey[0], grey[1], marks


@pytest.mark.parametrize("label", [0, 1, 2])
def test_motion_is_localised_and_class_specific(label):
    onset, apex, marks = _apex_difference(label)
    difference = np.abs(apex.astype(float) - onset)
    ys = np.arange(onset.shape[0])[:, None] * np.ones_like(difference)
    eyes_y = (marks.left_eye[1] + marks.right_eye[1]) / 2
    mouth_y = (marks.mouth_left[1] + marks.mouth_right[1]) / 2
    upper = difference[ys < (eyes_y + marks.nose[1]) / 2].sum()
    lower = difference[ys > (marks.nose[1] + mouth_y) / 2 - 0.1 * marks.interocular].sum()
    name = CLASS_NAMES[label]
    if name == "positive":
        assert lower > 3 * upper, (upper, lower)  # lip corners, not brows
    else:
        assert upper > 3 * lower, (upper, lower)  # brows, not mouth
    flow = cv2.calcOpticalFlowFarneback(onset, apex, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    brow_y = int(eyes_y - 0.38 * marks.interocular)
    brow_v = np.mean([flow[brow_y, int(x), 1] for x in (marks.left_eye[0], marks.right_eye[0])])
    if name == "surprise":
        assert brow_v < -0.5  # brows up
    if name == "negative":
        assert brow_v > 0.3  # brows down
    if name == "positive":
        corners = [flow[int(y), int(x)] for x, y in (marks.mouth_left, marks.mouth_right)]
        assert all(v < -0.3 for _, v in corners)  # corners up
        assert corners[0][0] < 0 < corners[1][0]  # and out


def test_motion_ramp_rises_to_apex_and_returns():
    ramp = demo_faces.motion_ramp(22, 9)
    assert ramp[0] == 0 and ramp[-1] == 0 and ramp[9] == 1
    assert np.all(np.diff(ramp[:10]) > 0) and np.all(np.diff(ramp[9:]) < 0)
    with pytest.raises(ValueError, match="apex"):
        demo_faces.motion_ramp(22, 21)


def test_mtcnn_finds_a_face_on_an_onset_frame_of_each_dataset(demo_dir):
    from mtcnn import MTCNN

    detector = MTCNN()
    onsets = {
        "casme2": min((demo_dir / "casme2" / "CASME2_RAW_selected" / "sub19").glob("*/img*.jpg")),
        "samm": min((demo_dir / "samm" / "SAMM" / "028").glob("*/*.jpg")),
        "smic": min((demo_dir / "smic" / "SMIC_all_cropped" / "HS" / "s14").glob("*/*/*/*.bmp")),
    }
    for dataset, path in onsets.items():
        image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        faces = detector.detect_faces(image)
        assert len(faces) == 1 and faces[0]["confidence"] > 0.9, (dataset, path, faces)
        x, y, w, h = faces[0]["box"]
        assert w > 0.4 * image.shape[1], (dataset, faces[0]["box"])  # the face, not a patch of background


@pytest.mark.parametrize("protocol", ["megc2019", "paper_extended"])
def test_loaders_read_the_demo_back(demo_dir, expected_clips, protocol):
    datasets = pytest.importorskip("me_resnet.data.loading")
    loaders = {"casme2": datasets.load_casme2, "samm": datasets.load_samm, "smic": datasets.load_smic}
    for name, load in loaders.items():
        result = load(demo_dir / name, protocol=protocol)
        part = expected_clips[expected_clips.dataset == name]
        assert Counter(r.label for r in result.records) == Counter(part.label.tolist()), name
        assert len({r.subject for r in result.records}) == 5, (name, sorted({r.subject for r in result.records}))
        for record in result.records:
            assert record.onset < record.apex < record.offset  # incl. the two repaired apexes
            assert len(record.frame_paths) == record.offset - record.onset + 1 >= demo.FRAMES_PER_CLIP[0]
    casme = datasets.load_casme2(demo_dir / "casme2", protocol=protocol)
    assert any(demo.CASME_UNLISTED_FOLDER[1] in p for p in casme.problems)
    repaired = [r for r in casme.records if r.problems]
    assert [r.clip for r in repaired] == [demo.CASME_BAD_APEX[1]]
    fer = datasets.load_fer2013(demo_dir / "fer2013")
    assert fer.images.shape == (280, 48, 48) and set(np.asarray(fer.labels).tolist()) == set(range(7))


def test_ensure_demo_data_generates_only_when_incomplete(demo_dir, tmp_path, monkeypatch):
    calls = []

    def fake_generate(out, seed=0):
        calls.append((Path(out), seed))
        Path(out).mkdir(parents=True, exist_ok=True)
        marker = {"seed": seed, "generator_version": demo.GENERATOR_VERSION}
        (Path(out) / demo.MARKER).write_text(json.dumps(marker))

    monkeypatch.setattr(demo, "generate_demo", fake_generate)
    done = tmp_path / "done"  # a complete generation's marker, without touching the shared demo_dir
    done.mkdir()
    (done / demo.MARKER).write_bytes((demo_dir / demo.MARKER).read_bytes())
    assert demo.ensure_demo_data(done, seed=0) == done and calls == []  # complete: untouched
    demo.ensure_demo_data(done, seed=3)
    assert calls == [(done, 3)]  # other seed: redone
    fresh = tmp_path / "fresh"
    demo.ensure_demo_data(fresh)
    demo.ensure_demo_data(fresh)
    assert calls[1:] == [(fresh, 0)]  # interrupted or missing: generated once
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path / "cache"))
    assert demo.ensure_demo_data() == tmp_path / "cache" / "demo"


def test_bad_arguments_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        demo.generate_demo(tmp_path, seed=-1)
    with pytest.raises(ValueError, match="label"):
        demo_faces.render_clip(
            np.zeros((64, 64, 3), np.float32),
            demo_faces.PHOTO_LANDMARKS["lfw"],
            5,
            20,
            8,
            np.random.default_rng(0),
            2.0,
        )
