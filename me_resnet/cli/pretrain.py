"""``me-resnet pretrain``: pretrain the 2D ResNet50-CBAM on FER2013 (paper §3.2) and save it for inflation.

    me-resnet pretrain --fer2013 /data/fer2013.csv   # or $ME_RESNET_FER2013
    me-resnet pretrain --demo                        # synthetic demo faces, ~1-2 min
    me-resnet pretrain --demo --epochs 5             # any config key as --key value

Writes the model to the cache (``$ME_RESNET_CACHE/pretrained/*.keras``, never to
git) and ``summary.json`` to ``results/pretrain_fer2013/`` (``results/demo/...``
with --demo). Use the model with ``--pretrained <path>`` in the other commands.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from me_resnet.cli.common import config_from_flags, expected_errors
from me_resnet.data.demo import ensure_demo_data
from me_resnet.data.loading import load_fer2013
from me_resnet.reporting.outputs import write_json
from me_resnet.utils.paths import RESULTS_DIR, dataset_root_from_env
from me_resnet.utils.quiet import import_backend_quietly, prepare_environment

ARTIFACT = "pretrain_fer2013"
NO_DATA = """{prog}: no FER2013 data given.
  {prog} --fer2013 /data/fer2013.csv   (or export ME_RESNET_FER2013=...)
  {prog} --demo                        (synthetic demo faces)
"""


def main(argv=None, prog: str = "me-resnet pretrain") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.splitlines()[0].split(": ", 1)[1],
        allow_abbrev=False,
        epilog="Config keys: see me_resnet/config.py",
    )
    parser.add_argument("--demo", action="store_true", help="demo FER2013 data and the demo profile")
    parser.add_argument(
        "--fer2013", type=Path, help="fer2013.csv / icml_face_data.csv / train+test folder (or $ME_RESNET_FER2013)"
    )
    parser.add_argument("--profile", choices=["paper", "demo"], help="default: demo with --demo, else paper")
    parser.add_argument("--out", type=Path, help="results dir (default results/[demo/]pretrain_fer2013)")
    parser.add_argument("--weights", type=Path, help="where to save the .keras model (default: the cache)")
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config, _ = config_from_flags(parser, args.profile or ("demo" if args.demo else "paper"), extra)

    if args.demo:
        root = ensure_demo_data() / "fer2013"
    else:
        root = args.fer2013 or dataset_root_from_env("fer2013")
        if root is None:
            sys.stderr.write(NO_DATA.format(prog=prog))
            return 2
    with expected_errors(prog):
        data = load_fer2013(root)
    prepare_environment()
    import_backend_quietly()
    from me_resnet.training.pretrain import pretrain_fer2013, pretrain_summary, pretrained_weights_path

    result = pretrain_fer2013(data, config)
    weights = args.weights or pretrained_weights_path(config)
    weights.parent.mkdir(parents=True, exist_ok=True)
    result.model.save(weights)
    out = args.out or (RESULTS_DIR / "demo" / ARTIFACT if args.demo else RESULTS_DIR / ARTIFACT)
    record = pretrain_summary(result, config, weights, Path(root), synthetic=args.demo)
    summary = write_json(out / "summary.json", record, sort_keys=True)
    accuracy = ", ".join(f"{k} {v:.3f}" for k, v in result.accuracy.items())
    print(f"FER2013 accuracy: {accuracy} ({result.epochs_trained} epochs, best {result.best_epoch})")
    print(f"model: {weights}\nsummary: {summary}\nuse it with: --pretrained {weights}")
    return 0
