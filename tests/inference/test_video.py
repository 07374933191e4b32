import numpy as np
import pytest

from me_resnet.inference.video import open_clip, write_video
from tests.support.clips import blob_clip, write_clip


def test_folder_frames_are_numbered_by_their_file_names(tmp_path):
    folder = write_clip(tmp_path / "clip", blob_clip(motion=6, apex=3), first_number=46)
    (folder / "notes.txt").write_text("not a frame")
    source = open_clip(folder)
    assert source.kind == "folder" and source.numbers == tuple(range(46, 52))
    assert source.frame_paths[0].endswith("img46.png") and source.frame_paths[-1].endswith("img51.png")
    numbers = [number for number, _ in source.frames(48, 50, progress=False)]
    assert numbers == [48, 49, 50]
    assert source.read([47])[47].shape == (48, 48, 3)


def test_folder_without_distinct_numbers_is_numbered_by_position(tmp_path):
    frames = blob_clip(motion=3, apex=1)
    write_clip(tmp_path / "clip", frames[:2], first_number=1, prefix="a")
    write_clip(tmp_path / "clip", frames[2:], first_number=1, prefix="b")
    assert open_clip(tmp_path / "clip").numbers == (0, 1, 2)


def test_video_round_trip(tmp_path):
    frames = np.repeat(blob_clip(motion=6, apex=3)[..., None], 3, axis=-1)
    source = open_clip(write_video(frames, tmp_path / "clip.avi"))
    assert source.kind == "video" and source.numbers == tuple(range(6))
    decoded = dict(source.frames(progress=False))
    assert sorted(decoded) == list(range(6)) and decoded[0].shape == (48, 48, 3)
    assert np.abs(decoded[3].astype(int) - frames[3]).mean() < 4  # MJPG is lossy, not wrong
    with pytest.raises(ValueError, match="has no frame 9"):
        source.read([9])


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="input not found"):
        open_clip(tmp_path / "absent.mp4")
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video")
    with pytest.raises(ValueError, match=r"cannot open .*clip.mp4 as a video"):
        open_clip(fake)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no frame images .* in folder .*empty"):
        open_clip(tmp_path / "empty")
    broken = write_clip(tmp_path / "broken", blob_clip(motion=3, apex=1))
    (broken / "img2.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(ValueError, match="img2.png"):
        list(open_clip(broken).frames(progress=False))
