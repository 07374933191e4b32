"""The two data types every stage shares (me_resnet/data/records.py): ``ClipRecord`` and ``Features``."""

import numpy as np
import pytest

from me_resnet.data.records import ClipRecord, Features


def part(dataset, clips, fallbacks=None, subject="s1", shape=(2, 2, 3)):
    n = len(clips)
    return Features(
        np.arange(n * int(np.prod(shape)), dtype=np.float32).reshape((n, *shape)),
        np.arange(n, dtype=np.int64) % 3,
        np.array([subject] * n),
        np.array([dataset] * n),
        np.array(clips),
        ("u", "v", "strain")[: shape[-1]],
        fallbacks=fallbacks or {},
    )


def test_clip_record_key_and_group_name_the_dataset():
    record = ClipRecord("samm", "006", "006_1_2", ("a.jpg",), (5562,), 5562, 5562, 5562, "Anger", 0)
    assert (record.key, record.group) == ("samm/006/006_1_2", "samm/006")


def test_rows_must_align_and_channels_be_named():
    features = part("casme2", ["a", "b"])
    with pytest.raises(ValueError, match="Features.clips has 1 rows, X has 2"):
        Features(features.X, features.y, features.subjects, features.datasets, features.clips[:1], features.channels)
    with pytest.raises(ValueError, match=r"Features.X has 3 channels, names given: \('u', 'v'\)"):
        Features(features.X, features.y, features.subjects, features.datasets, features.clips, ("u", "v"))


def test_subset_keeps_rows_in_the_order_asked_with_groups_and_keys():
    features = part("casme2", ["a", "b", "c"], subject="sub01")
    chosen = features.subset([2, 0])
    np.testing.assert_array_equal(chosen.X, features.X[[2, 0]])
    assert chosen.y.tolist() == [2, 0] and len(chosen) == 2
    assert chosen.keys.tolist() == ["casme2/sub01/c", "casme2/sub01/a"]
    assert chosen.groups.tolist() == ["casme2/sub01", "casme2/sub01"]


def test_fallbacks_follow_subset_and_concatenate():
    casme = part("casme2", ["a", "b", "c"], {"face_not_found": ["casme2/s1/b"], "repeated_frames": ["casme2/s1/c"]})
    assert casme.subset([0, 1]).fallbacks == {"face_not_found": ["casme2/s1/b"], "repeated_frames": []}
    assert casme.subset([0]).fallbacks == {"face_not_found": [], "repeated_frames": []}
    both = Features.concatenate([casme, part("samm", ["d"], {"face_not_found": ["samm/s1/d"]})])
    assert both.fallbacks == {"face_not_found": ["casme2/s1/b", "samm/s1/d"], "repeated_frames": ["casme2/s1/c"]}
    assert part("samm", ["d"], {}).subset([0]).fallbacks == {}


def test_concatenate_refuses_parts_of_other_shapes_or_channels():
    with pytest.raises(ValueError, match="at least one part"):
        Features.concatenate([])
    with pytest.raises(ValueError, match=r"cannot concatenate features of shape \(2, 2, 2\) / channels \('u', 'v'\)"):
        Features.concatenate([part("casme2", ["a"]), part("samm", ["b"], shape=(2, 2, 2))])
