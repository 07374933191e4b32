"""``me-resnet table1``: Table 1 / Table 2, samples per dataset and class, the kit's counts beside the paper's.

me-resnet table1 --demo
me-resnet table1 --casme2 DIR --smic DIR --samm DIR
"""

from __future__ import annotations

import dataclasses

from me_resnet.cli import common
from me_resnet.data.protocols import PROTOCOLS
from me_resnet.reporting import markdown, tables
from me_resnet.reporting.outputs import write_csv, write_text
from me_resnet.reporting.result_folder import final_paths, result_folder

ARTIFACT = "table1_datasets"


def main(argv=None, prog: str = "me-resnet table1") -> int:
    parser = common.make_parser(prog, __doc__.splitlines()[0].split(": ", 1)[1])
    common.add_force(parser)
    ctx = common.parse(parser, ARTIFACT, argv)
    from me_resnet.cli import loso

    loaded = {protocol: loso.load(ctx, dataclasses.replace(ctx.config, protocol=protocol)) for protocol in PROTOCOLS}
    out = loso.output(ctx, ctx.coverage())
    table = tables.table1(loaded).assign(data=ctx.data_note())  # the CSV says what data it counts
    with result_folder(out) as stage:  # both files, or neither, replace the previous ones
        paths = {
            "table_csv": write_csv(stage / "table1_datasets.csv", table),
            "table_md": write_text(stage / "table1_datasets.md", tables.table1_markdown(table, demo=ctx.demo)),
        }
    print(markdown.markdown_table(table[list(tables.TABLE1_SHOWN)]))
    common.report(final_paths(paths, out))
    return 0
