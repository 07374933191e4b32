"""cli/fig3.py: a demo clip's Fig. 3 files cannot pass for the paper's sample."""

from me_resnet.cli.fig3 import PAPER_CLIPS, output_stem
from me_resnet.data.records import ClipRecord


def test_demo_files_say_demo():
    dataset, subject, clip = PAPER_CLIPS[1].split("/")
    record = ClipRecord(dataset, subject, clip, ("a.jpg", "b.jpg"), (1, 2), 1, 2, 2, "surprise", 2)
    assert output_stem(record, demo=True) == "fig3_flow_DEMO_casme2_sub19_EP02_01"
    assert output_stem(record, demo=False) == "fig3_flow_casme2_sub19_EP02_01"
