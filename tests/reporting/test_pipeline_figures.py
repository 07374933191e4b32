"""me_resnet/reporting/pipeline_figures.py and notebook_setup.py: the figures of notebooks 01 and 02."""

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from me_resnet.data.demo_truth import ClipTruth, TruthEvent  # noqa: E402
from me_resnet.data.records import ClipRecord  # noqa: E402
from me_resnet.models.cbam import CBAM  # noqa: E402
from me_resnet.preprocessing.face import FaceCropper  # noqa: E402
from me_resnet.reporting import notebook_setup, pipeline_figures  # noqa: E402
from tests.support.trees import write_frames  # noqa: E402


@pytest.fixture
def record(tmp_path):
    """A 4-frame clip of 8x8 grey frames 10, 20, 50, 40: onset 1, apex 3, offset 4."""
    write_frames(tmp_path, "img{}.jpg", [1, 2, 3, 4], values=[10, 20, 50, 40])
    return ClipRecord(
        dataset="casme2",
        subject="sub01",
        clip="EP01",
        frame_paths=tuple(str(tmp_path / f"img{n}.jpg") for n in (1, 2, 3, 4)),
        frame_numbers=(1, 2, 3, 4),
        onset=1,
        apex=3,
        offset=4,
        emotion="happiness",
        label=1,
    )


def test_clip_frames_figure_shows_onset_apex_offset_and_their_difference(record):
    fig = pipeline_figures.clip_frames_figure([record, record])
    assert len(fig.axes) == 8
    assert fig.axes[3].get_title() == "casme2 positive: |apex - onset|"
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), np.full((8, 8), 40), atol=2)  # |50 - 10|
    plt.close(fig)


def test_face_crop_figure_draws_the_crop_box_at_both_sizes(record):
    fig = pipeline_figures.face_crop_figure([record], FaceCropper("center", 0.1, 16), small_size=8)
    (box,) = fig.axes[0].patches  # the centre detector draws no detection box, only the crop box
    assert (box.get_width(), box.get_height()) == (8, 8)
    assert fig.axes[1].images[0].get_array().shape == (32, 32)  # 2x2 crops of 16 px, the 8 px row drawn large
    plt.close(fig)


def _truth(events=()):
    """The ground truth of ``record``: the left half of its 8x8 frames moved, the apex at frame 3."""
    moving = np.zeros((8, 8), bool)
    moving[:, :4] = True
    return ClipTruth(
        dataset="casme2",
        subject="sub01",
        clip="EP01",
        label=1,
        onset=1,
        apex=3,
        offset=4,
        moving=moving,
        displacement=np.zeros((8, 8, 2), np.float32),
        intensity=np.array([0.0, 0.5, 1.0, 0.5], np.float32),
        events=tuple(events),
        action_units="12",
        ambiguous=False,
    )


def test_ground_truth_figure_outlines_the_moving_region_and_shows_a_distractor(record):
    fig = pipeline_figures.ground_truth_figure([record, record], [_truth([TruthEvent("blink", 2, 3)]), _truth()])
    assert len(fig.axes) == 2 * 5
    blinking, still = fig.axes[:5], fig.axes[5:]
    assert [ax.get_title() for ax in blinking[:4]] == [
        "sub01/EP01 positive\nonset",
        "apex\nmoving region",
        "|apex - onset|",
        "|blink - onset|\nat frame 2",
    ]
    np.testing.assert_allclose(blinking[2].images[0].get_array(), np.full((8, 8), 40), atol=2)  # |50 - 10|
    np.testing.assert_allclose(blinking[3].images[0].get_array(), np.full((8, 8), 10), atol=2)  # |20 - 10|
    assert [bool(ax.collections) for ax in blinking[:4]] == [False, True, True, False]  # outlined: apex, difference
    assert blinking[4].get_title() == "intensity; onset 1,\napex 3 (red), offset 4"
    np.testing.assert_array_equal(blinking[4].lines[0].get_xdata(), [1, 2, 3, 4])
    assert blinking[4].get_legend() is not None and still[4].get_legend() is None
    assert not still[3].images  # no distractor, no fourth panel
    with pytest.raises(ValueError, match="got 2 records and 1 truths"):
        pipeline_figures.ground_truth_figure([record, record], [_truth()])
    plt.close(fig)


def test_image_grid_and_flow_sequence_layouts():
    panels = {"apex crop": np.zeros((4, 4)), "strain": np.ones((4, 4)), "magnitude": np.ones((4, 4))}
    fig = pipeline_figures.image_grid(panels, columns=2, grey={"apex crop"}, title="t")
    assert [ax.get_title() for ax in fig.axes[:3]] == list(panels)
    assert fig.axes[0].images[0].get_cmap().name == "gray" and fig.axes[1].images[0].get_cmap().name == "magma"
    assert not fig.axes[3].images  # the fourth cell of the 2x2 grid stays empty
    assert not fig.axes[0].collections  # no region given, nothing outlined
    plt.close(fig)
    region = np.zeros((4, 4), np.float32)
    region[1:3, 1:3] = 1.0
    fig = pipeline_figures.image_grid(panels, columns=3, region=region)
    assert all(ax.collections for ax in fig.axes[:3])
    plt.close(fig)
    clip = np.random.default_rng(0).normal(size=(3, 4, 4, 3))
    fig = pipeline_figures.flow_sequence_figure(clip, ("u", "v", "strain"), "clip")
    assert len(fig.axes) == 9 and fig.axes[8].get_title() == "strain, field 3"
    np.testing.assert_array_equal(fig.axes[4].images[0].get_array(), clip[1, ..., 1])
    plt.close(fig)


def test_cbam_attention_maps_and_figure():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2, 4, 4, 8))
    x = CBAM(rank=3, reduction=4, spatial_kernel=(1, 3, 3), name="attend")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(keras.layers.GlobalAveragePooling3D()(x))
    model = keras.Model(inputs, outputs)
    clip = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype("float32")
    maps = pipeline_figures.cbam_attention(model, "attend", clip)
    assert maps["channel"].shape == (8,) and maps["spatial"].shape == (2, 4, 4, 1)
    assert 0 <= maps["spatial"].min() and maps["spatial"].max() <= 1
    with pytest.raises(ValueError, match="layer 'head' .* is a Dense, not a CBAM layer"):
        pipeline_figures.cbam_attention(model, model.layers[-1].name, clip)
    fig = pipeline_figures.attention_figure(np.zeros((16, 16)), {"initial": maps, "later": maps}, "title")
    assert len(fig.axes) == 2 * 3 and fig.axes[2].get_title() == "channel weights a_c (initial)"
    plt.close(fig)


def test_configure_notebook_sets_small_figures_and_checks_quality():
    with pytest.raises(ValueError, match="jpeg_quality must be in 1..100, got 0"):
        notebook_setup.configure_notebook(jpeg_quality=0)
    with matplotlib.rc_context():
        notebook_setup.configure_notebook()  # outside IPython: no inline backend to configure
        assert plt.rcParams["figure.dpi"] == notebook_setup.FIGURE_RC["figure.dpi"]
