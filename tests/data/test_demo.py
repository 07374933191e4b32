"""Demo data generator: official layouts and quirks, determinism, class motion at its action units, timing as the
real coding sheets, loaders read it back."""

import json
import zipfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from me_resnet.data import demo, demo_faces, demo_layouts, demo_motion, demo_sampling, demo_truth

pytestmark = pytest.mark.xdist_group("demo_data")  # one worker generates the shared demo data (conftest.py)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def expected_clips() -> pd.DataFrame:
    return demo.select_demo_clips()


@pytest.fixture(scope="module")
def table_of_truth(demo_dir) -> pd.DataFrame:
    return demo_truth.truth_table(demo_dir)


@pytest.mark.slow
def test_same_seed_gives_identical_bytes_and_other_seed_differs(demo_dir, tmp_path):
    """Same seed, same files, whether the clips render in worker processes (``demo_dir``: the default, 2 on
    a 2-core machine) or one after another here (``workers=1``)."""
    again, other = tmp_path / "again", tmp_path / "other"
    demo.generate_demo(again, seed=0, workers=1)
    demo.generate_demo(other, seed=1)
    first = _tree_bytes(demo_dir)
    assert first == _tree_bytes(again)  # every frame, both xlsx, the csv, the marker
    second = _tree_bytes(other)
    for sheet in (
        "casme2/CASME2-coding-20190701.xlsx",
        "samm/SAMM_Micro_FACS_Codes_v2.xlsx",
        "fer2013/fer2013.csv",
        "ground_truth/clips.csv",
    ):
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
    assert [r[1] for r in body if r[4] == "/"] == [demo_layouts.CASME_BAD_APEX[1]]
    assert min(r[3] for r in body) > 1  # frames start mid-video, not at 0/1
    subject, clip = demo_layouts.CASME_UNLISTED_FOLDER
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
    assert [r[1] for r in bad] == [demo_layouts.SAMM_BAD_APEX[1]]
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


def _apex_difference(units: dict[str, float]) -> tuple[np.ndarray, np.ndarray, demo_faces.Landmarks]:
    """Noise-free, still-headed onset and apex frames (grey float) of an expression with ``units``."""
    portrait, marks = demo_faces.make_portrait(demo_faces.Look("grace_hopper", framing=3.6), 128)
    expression = demo_motion.Expression(1, tuple(units.items()), 0, 8, 20, amplitude=0.08 * marks.interocular)
    rendering = demo_motion.render_stretch(portrait, marks, 21, np.random.default_rng(0), expression=expression)
    grey = [cv2.cvtColor(rendering.frames[i], cv2.COLOR_RGB2GRAY) for i in (0, 8)]
    return grey[0], grey[1], marks


@pytest.mark.parametrize(
    "name, units", [("negative", {"AU4": 1.0}), ("positive", {"AU12": 1.0}), ("surprise", {"AU1": 1.0, "AU2": 1.0})]
)
def test_motion_is_localised_at_the_class_action_units(name, units):
    onset, apex, marks = _apex_difference(units)
    difference = np.abs(apex.astype(float) - onset)
    ys = np.arange(onset.shape[0])[:, None] * np.ones_like(difference)
    eyes_y = (marks.left_eye[1] + marks.right_eye[1]) / 2
    mouth_y = (marks.mouth_left[1] + marks.mouth_right[1]) / 2
    upper = difference[ys < (eyes_y + marks.nose[1]) / 2].sum()
    lower = difference[ys > (marks.nose[1] + mouth_y) / 2 - 0.1 * marks.interocular].sum()
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


def test_one_sided_units_move_one_half_of_the_face():
    portrait, marks = demo_faces.make_portrait(demo_faces.Look("astronaut"), 128)
    field = demo_faces.displacement_field({"AU12": 1.0}, marks, portrait.shape[:2], 2.0, sides=(0.0, 1.0))
    magnitude = np.hypot(field[..., 0], field[..., 1])
    left, right = magnitude[:, : int(marks.midline_x)].sum(), magnitude[:, int(marks.midline_x) :].sum()
    assert right > 20 * left and magnitude.max() == pytest.approx(2.0, rel=0.05)


def test_clip_timing_follows_the_coding_sheets():
    rng = np.random.default_rng(0)
    draws = np.array([demo_sampling.clip_timing(rng, "casme2", 1.0, False) for _ in range(2000)])
    lengths, apexes = draws[:, 0], draws[:, 1] / (draws[:, 0] - 1)
    assert np.median(lengths) == pytest.approx(68, abs=3)  # CASME II at 200 fps
    assert np.percentile(lengths, 10) == pytest.approx(41, abs=3) and np.percentile(lengths, 90) == pytest.approx(
        98, abs=3
    )
    assert np.percentile(apexes, 10) == pytest.approx(0.31, abs=0.03) and np.percentile(apexes, 90) == pytest.approx(
        0.71, abs=0.03
    )
    assert np.all((draws[:, 1] >= 1) & (draws[:, 1] <= draws[:, 0] - 2))  # the apex lies strictly inside
    for _ in range(20):  # a bad-apex clip peaks where the loaders' repair puts its apex
        length, apex = demo_sampling.clip_timing(rng, "samm", 1.2, True)
        assert apex == (length - 1) // 2


def test_action_units_vary_per_clip_like_the_coding_sheets(demo_dir):
    sheet = pd.read_excel(demo_dir / "casme2" / "CASME2-coding-20190701.xlsx")
    labels = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}
    for label, codes in sheet.groupby(sheet["Estimated Emotion"].map(labels))["Action Units"]:
        assert codes.nunique() > 1, (label, codes.tolist())
    rng = np.random.default_rng(0)
    drawn = [dict(demo_sampling.action_units(rng, 0)) for _ in range(500)]
    none_drawn = np.prod([1 - p for p in demo_sampling.AU_PROBABILITIES[0].values()])  # then the first unit
    assert np.mean(["AU4" in units for units in drawn]) == pytest.approx(0.62 + none_drawn, abs=0.06)
    sides = [demo_sampling.face_sides(rng, 2, preferred=0) for _ in range(500)]
    assert np.mean([left != right for left, right in sides]) == pytest.approx(
        demo_sampling.ONE_SIDED_SHARE[2], abs=0.07
    )


def test_motion_ramp_rises_to_apex_and_returns():
    ramp = demo_faces.motion_ramp(22, 9)
    assert ramp[0] == 0 and ramp[-1] == 0 and ramp[9] == 1
    assert np.all(np.diff(ramp[:10]) > 0) and np.all(np.diff(ramp[9:]) < 0)
    with pytest.raises(ValueError, match="apex"):
        demo_faces.motion_ramp(22, 21)


def test_the_kits_detector_finds_the_face_on_an_onset_frame_of_every_subject(demo_dir, table_of_truth):
    from me_resnet.preprocessing.face import detect_faces

    first = table_of_truth.groupby(["dataset", "subject"]).head(1)
    paths = [min((demo_dir / folder).iterdir()) for folder in first.folder]
    images = [cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for path in paths]
    for path, image, box in zip(paths, images, detect_faces(images)):
        assert box is not None, path
        assert box[2] > 0.4 * image.shape[1], (path, box)  # the most confident face is the face, not background


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
            assert len(record.frame_paths) == record.offset - record.onset + 1 >= 8
    casme = datasets.load_casme2(demo_dir / "casme2", protocol=protocol)
    assert any(demo_layouts.CASME_UNLISTED_FOLDER[1] in p for p in casme.problems)
    repaired = [r for r in casme.records if r.problems]
    assert [r.clip for r in repaired] == [demo_layouts.CASME_BAD_APEX[1]]
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
    with pytest.raises(ValueError, match="start < apex < end"):
        demo_motion.Expression(0, (("AU4", 1.0),), start=5, apex=5, end=9, amplitude=1.0)
    with pytest.raises(ValueError, match="event kind"):
        demo_motion.Event("sneeze", 0, 4, 1.0)
    portrait, marks = np.zeros((64, 64, 3), np.float32), demo_faces.PHOTO_LANDMARKS["lfw"]
    late = demo_motion.Expression(0, (("AU4", 1.0),), start=0, apex=5, end=30, amplitude=1.0)
    with pytest.raises(ValueError, match="past the stretch"):
        demo_motion.render_stretch(portrait, marks, 20, np.random.default_rng(0), expression=late)
    with pytest.raises(ValueError, match="unknown action unit"):
        demo_faces.displacement_field({"AU99": 1.0}, marks, (64, 64), 1.0)
