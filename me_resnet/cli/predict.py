"""``me-resnet predict INPUT --model MODEL.keras``: class probabilities for one clip.

INPUT is a video file (anything OpenCV reads) or a folder of frames. Without
``--onset/--apex`` the onset and apex are spotted (``me_resnet.inference.spotting``).
Exit status: 0 predicted, 1 the input or model could not be used, 2 usage errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from me_resnet.inference.video import open_clip
from me_resnet.training.model_card import ModelCardError, load_model_with_card
from me_resnet.utils.io import write_json_atomic
from me_resnet.utils.provenance import provenance
from me_resnet.utils.quiet import import_backend_quietly, prepare_environment


def make_parser(prog: str = "me-resnet predict") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Spot onset and apex (unless given), pre-process as in training and print class probabilities.",
    )
    parser.add_argument("input", type=Path, help="video file or folder of frame images")
    parser.add_argument("--model", type=Path, required=True, help="MODEL.keras written by `me-resnet train`")
    parser.add_argument("--onset", type=int, help="onset frame number (give with --apex; default: spotted)")
    parser.add_argument("--apex", type=int, help="apex frame number (give with --onset; default: spotted)")
    parser.add_argument(
        "--window", type=int, nargs=2, metavar=("START", "END"), help="spot only within frames START..END"
    )
    parser.add_argument("--figure", type=Path, help="write a PNG: motion curve, apex face, flow, CBAM attention")
    parser.add_argument("--json", type=Path, help="write the prediction as JSON to this file ('-': stdout)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    return parser


def main(argv: list[str] | None = None, prog: str = "me-resnet predict") -> int:
    parser = make_parser(prog)
    args = parser.parse_args(argv)
    if (args.onset is None) != (args.apex is None):
        parser.error("give both --onset and --apex, or neither (they are then spotted)")
    if args.window is not None and args.window[0] > args.window[1]:
        parser.error(f"--window START END needs START <= END, got {args.window[0]} {args.window[1]}")
    if args.figure is not None and args.figure.suffix.lower() != ".png":
        parser.error(f"--figure writes a PNG file, got {args.figure}")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s")
    # what pre-processing did to the one clip is in the prediction's warnings, printed below: batch
    # pre-processing's info line per clip (e.g. repeated key frames) would say it again
    logging.getLogger("me_resnet.preprocessing").setLevel(logging.WARNING)
    prepare_environment()
    import_backend_quietly()
    from me_resnet.inference.predict import predict_clip

    try:
        model, card = load_model_with_card(args.model)
        source = open_clip(args.input)
        prediction = predict_clip(
            source,
            model,
            card,
            onset=args.onset,
            apex=args.apex,
            window=tuple(args.window) if args.window else None,
            progress=not args.quiet,
            motion_curve=args.figure is not None,
        )
    except (FileNotFoundError, ModelCardError, ValueError, OSError) as error:
        sys.stderr.write(f"me-resnet predict: {error}\n")
        return 1

    document = prediction.to_dict() | {"model": str(args.model), "method": card["method"]["name"]}
    if prediction.notice:
        print(f"NOTICE: {prediction.notice}")
    if prediction.spotted:
        spotting = prediction.spotting.spotting
        found = f"confidence {spotting.confidence:.1f}" + ("" if spotting.stands_out else ", no episode stands out")
        print(f"{args.input}: onset {prediction.onset}, apex {prediction.apex}, offset {prediction.offset} ({found})")
    else:
        print(f"{args.input}: onset {prediction.onset}, apex {prediction.apex} (given)")
    print(f"  key frames {list(prediction.key_frames)}")
    for name, probability in document["probabilities"].items():
        print(f"  {name:<9} {probability:.3f}")
    print(f"prediction: {prediction.label}" + (" (see NOTICE above)" if prediction.notice else ""))
    for warning in prediction.warnings:
        print(f"warning: {warning}")
    if args.figure is not None:
        from me_resnet.inference.explain import explain_figure

        print(f"figure: {explain_figure(prediction, model, card, args.figure)}")
    if args.json is not None:
        document["provenance"] = provenance()
        if str(args.json) == "-":
            import json

            print(json.dumps(document, indent=2, sort_keys=True))
        else:
            write_json_atomic(args.json, document)
            print(f"json: {args.json}")
    return 0
