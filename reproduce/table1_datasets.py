"""Table 1 / Table 2: samples per dataset and class, the kit's counts beside the paper's.

python reproduce/table1_datasets.py --demo
python reproduce/table1_datasets.py --casme2 DIR --smic DIR --samm DIR
"""

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from me_resnet.cli import common as cli
from me_resnet.data.records import CLASS_NAMES
from me_resnet.evaluation import experiment
from me_resnet.reporting import markdown
from me_resnet.reporting import paper


def count_rows(ctx) -> pd.DataFrame:
    rows = []
    for protocol in ("megc2019", "paper"):
        loaded = experiment.load_records(ctx, dataclasses.replace(ctx.config, protocol=protocol))
        for dataset, result in loaded.items():
            labels = pd.Series([record.label for record in result.records], dtype=int)
            ours = {name: int((labels == index).sum()) for index, name in enumerate(CLASS_NAMES)}
            table1 = paper.TABLE1[dataset]
            rows.append(
                {
                    "dataset": dataset,
                    "protocol": protocol,
                    "clips": len(result.records),
                    **{f"{name}": ours[name] for name in CLASS_NAMES},
                    "augmented_4x": 4 * len(result.records),
                    "paper_clips": table1["total"],
                    **{f"paper_{name}": table1[name] for name in CLASS_NAMES},
                    "paper_augmented_4x": paper.TABLE2_AUGMENTED[dataset],
                    "difference_clips": len(result.records) - table1["total"],
                    "problems_reported": len(result.problems),
                }
            )
    return pd.DataFrame(rows)


def main(argv=None):
    parser = cli.make_parser(__doc__.splitlines()[0], seeds=False)
    ctx = cli.parse(parser, "table1_datasets", argv)
    table = count_rows(ctx)
    csv_path, md_path = ctx.out / "table1_datasets.csv", ctx.out / "table1_datasets.md"
    table.to_csv(csv_path, index=False)
    shown = table[
        [
            "dataset",
            "protocol",
            "clips",
            "negative",
            "positive",
            "surprise",
            "augmented_4x",
            "paper_clips",
            "paper_negative",
            "paper_positive",
            "paper_surprise",
            "paper_augmented_4x",
            "difference_clips",
        ]
    ]
    md_path.write_text(
        "# Table 1 / Table 2: samples per dataset (kit's counts beside the paper's)\n\n"
        + markdown.demo_banner(ctx.demo)
        + "`paper_*` columns are the paper's Table 1 and Table 2. The `megc2019` protocol is the official MEGC 2019 "
        "composite list (CASME II 145, not the paper's 146); the `paper` protocol maps emotions as the paper's text says.\n\n"
        + markdown.markdown_table(shown)
    )
    print(markdown.markdown_table(shown))
    experiment.report({"table_csv": csv_path, "table_md": md_path})


if __name__ == "__main__":
    main()
