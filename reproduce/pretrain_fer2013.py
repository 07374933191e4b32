"""Pretrain the 2D ResNet50-CBAM on FER2013 (paper §3.2) and save it for inflation.

    python reproduce/pretrain_fer2013.py --fer2013 /data/fer2013.csv   # or $ME_RESNET_FER2013
    python reproduce/pretrain_fer2013.py --demo                        # synthetic demo faces, ~1-2 min
    python reproduce/pretrain_fer2013.py --demo --epochs 5             # any config key as --key value

Writes the model to the cache (``$ME_RESNET_CACHE/pretrained/*.keras``, never to
git) and ``summary.json`` to ``results/pretrain_fer2013/`` (``results/demo/...``
with --demo). Use the model with ``--pretrained <path>`` in the other scripts.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from me_resnet.config import apply_overrides, get_profile
from me_resnet.utils.paths import RESULTS_DIR, dataset_root_from_env

NO_DATA = """pretrain_fer2013.py: no FER2013 data given.
  python reproduce/pretrain_fer2013.py --fer2013 /data/fer2013.csv   (or export ME_RESNET_FER2013=...)
  python reproduce/pretrain_fer2013.py --demo                        (synthetic demo faces)
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="Config keys: see me_resnet/config.py")
    parser.add_argument("--demo", action="store_true", help="demo FER2013 data and the demo profile")
    parser.add_argument(
        "--fer2013", type=Path, help="fer2013.csv / icml_face_data.csv / train+test folder (or $ME_RESNET_FER2013)"
    )
    parser.add_argument("--profile", choices=["paper", "demo"], help="default: demo with --demo, else paper")
    parser.add_argument("--out", type=Path, help="results dir (default results/[demo/]pretrain_fer2013)")
    parser.add_argument("--weights", type=Path, help="where to save the .keras model (default: the cache)")
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = apply_overrides(get_profile(args.profile or ("demo" if args.demo else "paper")), extra)
    except ValueError as error:
        parser.error(str(error))

    if args.demo:
        from me_resnet.data.demo import ensure_demo_data

        root = ensure_demo_data() / "fer2013"
    else:
        root = args.fer2013 or dataset_root_from_env("fer2013")
        if root is None:
            sys.stderr.write(NO_DATA)
            return 2

    from me_resnet.data.loading import load_fer2013
    from me_resnet.training.pretrain import pretrain_fer2013, pretrain_summary, pretrained_weights_path

    result = pretrain_fer2013(load_fer2013(root), config)
    weights = args.weights or pretrained_weights_path(config)
    weights.parent.mkdir(parents=True, exist_ok=True)
    result.model.save(weights)
    out = args.out or (RESULTS_DIR / "demo" / "pretrain_fer2013" if args.demo else RESULTS_DIR / "pretrain_fer2013")
    out.mkdir(parents=True, exist_ok=True)
    summary = pretrain_summary(result, config, weights, Path(root))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    accuracy = ", ".join(f"{k} {v:.3f}" for k, v in result.accuracy.items())
    print(f"FER2013 accuracy: {accuracy} ({result.epochs_trained} epochs, best {result.best_epoch})")
    print(f"model: {weights}\nsummary: {out / 'summary.json'}\nuse it with: --pretrained {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
