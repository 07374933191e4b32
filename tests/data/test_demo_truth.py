"""Ground truth of the demo clips (me_resnet/data/demo_truth.py) agrees with the frames and the sheets; the
rendering building block (demo_motion.render_stretch) puts still, distractor and expression stretches where asked."""

import json

import cv2
import numpy as np
import pytest

from me_resnet.data import demo, demo_faces, demo_layouts, demo_motion, demo_sampling, demo_truth
from me_resnet.data.loading import load_casme2, load_samm, load_smic

pytestmark = pytest.mark.xdist_group("demo_data")  # one worker generates the shared demo data (conftest.py)


@pytest.fixture(scope="module")
def table(demo_dir):
    return demo_truth.truth_table(demo_dir)


def test_one_row_per_clip_folder_with_its_frames(demo_dir, table):
    clips = demo.select_demo_clips()
    assert len(table) == len(clips) + 1  # + the CASME II folder without a sheet row
    assert table[~table.listed]["clip"].tolist() == [demo_layouts.CASME_UNLISTED_FOLDER[1]]  # not table.clip: a method
    for row in table.itertuples():
        folder = demo_dir / row.folder
        numbers = sorted(int("".join(filter(str.isdigit, p.stem.split("_")[-1]))) for p in folder.iterdir())
        assert numbers == list(range(row.onset, row.offset + 1)), row.folder
        assert row.onset < row.apex < row.offset


def test_arrays_are_at_frame_resolution_and_the_apex_is_the_intensity_peak(demo_dir, table):
    for row in table.itertuples():
        truth = demo_truth.load_ground_truth(demo_dir, row.dataset, row.subject, row.clip)
        frame = cv2.imread(str(next((demo_dir / row.folder).iterdir())), cv2.IMREAD_UNCHANGED)
        assert truth.moving.shape == frame.shape[:2] and truth.moving.dtype == bool
        assert truth.displacement.shape == (*frame.shape[:2], 2) and truth.displacement.dtype == np.float32
        assert len(truth.intensity) == truth.offset - truth.onset + 1
        assert int(np.argmax(truth.intensity)) == truth.apex - truth.onset and truth.intensity.max() == 1.0
        assert truth.intensity[0] == 0 and truth.intensity[-1] == 0
        np.testing.assert_array_equal(truth.moving, demo_truth.moving_mask(truth.displacement))
        assert 0 < truth.moving.mean() < 0.6
        magnitude = np.hypot(truth.displacement[..., 0], truth.displacement[..., 1])
        assert magnitude.max() == pytest.approx(row.peak_px, abs=1e-3)
        for event in truth.events:
            assert event.kind in demo_truth.EVENT_KINDS
            assert truth.onset <= event.first < event.last <= truth.offset


def test_the_sheets_say_the_true_apex_except_on_their_quirk_rows(demo_dir, table):
    records = {
        (r.dataset, r.subject, r.clip): r
        for load, name in ((load_casme2, "casme2"), (load_samm, "samm"), (load_smic, "smic"))
        for r in load(demo_dir / name).records
    }
    assert len(records) == table.listed.sum()
    quirks = {demo_layouts.CASME_BAD_APEX[1], demo_layouts.SAMM_BAD_APEX[1]}
    for row in table[table.listed].itertuples():
        record = records[(row.dataset, row.subject, row.clip)]
        truth = demo_truth.truth_for_record(demo_dir, record)
        assert (truth.onset, truth.offset, truth.label) == (record.onset, record.offset, record.label)
        if row.dataset != "smic":  # SMIC has no apex label: the loader's middle frame is a guess
            assert record.apex == truth.apex  # incl. the repaired quirk rows: their motion peaks mid-clip
            assert (row.sheet_apex != str(truth.apex)) == (row.clip in quirks)
    assert (table.dataset == "smic").sum() > 0 and (table.sheet_apex[table.dataset == "smic"] == "").all()


def test_action_units_and_events_are_recorded(table):
    assert table.action_units.str.len().gt(0).all()
    assert table.ambiguous.any() and not table.ambiguous.all()
    events = [kind for text in table.events for kind, _, _ in json.loads(text)]
    assert set(events) == {"blink", "head_move"}
    assert table.sides.ne("1.00/1.00").any()  # some one-sided or asymmetric clips


def test_clip_draws_give_each_clip_as_the_generator_drew_it(table):
    for row in table.itertuples():
        (_, marks, style), draws = demo.clip_draws(row.dataset, row.subject, row.clip, row.label, seed=0)
        assert draws.onset == row.onset and draws.onset + draws.num_frames - 1 == row.offset
        assert draws.onset + draws.expression.apex == row.apex
        assert draws.expression.coding() == row.action_units
        events = [[e.kind, row.onset + e.start, row.onset + e.end] for e in draws.events]
        assert events == json.loads(row.events)
        assert style.interocular == marks.interocular
    with pytest.raises(ValueError, match="not a demo subject"):
        demo.clip_draws("casme2", "sub01", "EP02_01f", 1)


def test_unknown_clip_and_missing_truth_are_clear_errors(demo_dir, tmp_path):
    with pytest.raises(KeyError, match="casme2/sub02/EP99"):
        demo_truth.load_ground_truth(demo_dir, "casme2", "sub02", "EP99")
    with pytest.raises(FileNotFoundError, match="no demo ground truth"):
        demo_truth.truth_table(tmp_path)


def _portrait():
    return demo_faces.make_portrait(demo_faces.Look("astronaut", framing=4.0), 160)


def _grey(frames):
    return [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(float) for frame in frames]


@pytest.mark.parametrize("label", [0, 1, 2])
def test_noise_free_frame_difference_lies_in_the_moving_region_and_peaks_at_the_apex(label):
    portrait, marks = _portrait()
    style = demo_sampling.subject_style(np.random.default_rng(label), "casme2", marks.interocular)
    rng = np.random.default_rng(10 + label)
    length, apex = demo_sampling.clip_timing(rng, "casme2", 1.0, False)
    expression = demo_sampling.expression(rng, label, style, length, apex)
    rendering = demo_motion.render_stretch(portrait, marks, length, rng, expression=expression)
    grey = _grey(rendering.frames)
    moving = demo_truth.moving_mask(rendering.expression_field)
    difference = np.abs(grey[apex] - grey[0])
    inside = difference[moving].sum() / difference.sum()
    assert inside > 0.7 and inside > 3 * moving.mean(), (inside, moving.mean(), expression)
    change = [np.abs(frame - grey[0]).sum() for frame in grey]
    assert int(np.argmax(change)) == apex and change[-1] < 0.02 * change[apex]  # back at rest at the offset


def test_a_long_stretch_holds_still_and_distractor_context_around_the_expression():
    portrait, marks = _portrait()
    expression = demo_motion.Expression(1, (("AU12", 1.0),), start=40, apex=52, end=70, amplitude=2.0)
    blink = demo_motion.Event("blink", start=5, end=20, size=0.1 * marks.interocular)
    rendering = demo_motion.render_stretch(
        portrait, marks, 90, np.random.default_rng(0), expression=expression, events=[blink]
    )
    grey = _grey(rendering.frames)
    rest = grey[0]
    assert all(np.array_equal(grey[i], rest) for i in (*range(21, 40), *range(71, 90)))  # still, noise-free
    during_blink = np.abs(grey[12] - rest)
    ys, xs = np.mgrid[0 : rest.shape[0], 0 : rest.shape[1]]
    eyes = np.zeros_like(rest, bool)
    for x, y in (marks.left_eye, marks.right_eye):
        eyes |= (np.abs(xs - x) < 0.4 * marks.interocular) & (np.abs(ys - y) < 0.4 * marks.interocular)
    assert during_blink[eyes].sum() > 0.9 * during_blink.sum() > 0
    change = [np.abs(frame - rest).sum() for frame in grey[21:]]
    assert int(np.argmax(change)) + 21 == 52


def test_camera_noise_and_head_motion_are_drawn_from_the_rng():
    portrait, marks = _portrait()
    camera = demo_motion.Camera(noise=2.0, flicker=0.002, jpeg_quality=85)
    head = demo_motion.HeadMotion(velocity=(0.05, 0.0), jitter=0.01, residual=0.2)
    first = demo_motion.render_stretch(portrait, marks, 6, np.random.default_rng(3), camera, head)
    again = demo_motion.render_stretch(portrait, marks, 6, np.random.default_rng(3), camera, head)
    assert all(np.array_equal(a, b) for a, b in zip(first.frames, again.frames))
    residual = np.abs(_grey(first.frames)[1] - _grey(first.frames)[0])
    assert 1.0 < residual.mean() < 6.0  # noise of ~2 grey levels per frame
    assert not first.expression_field.any()  # no expression: nothing in the ground truth
    jpeg = demo_motion.encode_frame(first.frames[0], ".jpg", 85)
    assert jpeg[:2] == b"\xff\xd8" and len(jpeg) < first.frames[0].nbytes
