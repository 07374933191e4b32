"""Dataset loaders (docs/datasets.md): CASME II, SAMM, SMIC-HS -> ``list[ClipRecord]``; FER2013 arrays.

``me-resnet datasets --casme2 DIR ...`` checks a dataset tree and
prints clip counts per class and subject and every problem found.
"""

from __future__ import annotations

from pathlib import Path

from me_resnet.config import Config
from me_resnet.data.casme2 import load_casme2
from me_resnet.data.common import LoadResult
from me_resnet.data.fer2013 import FER2013_CLASSES, Fer2013Data, load_fer2013
from me_resnet.data.protocols import PROTOCOLS, read_megc2019_list
from me_resnet.data.samm import load_samm
from me_resnet.data.smic import load_smic
from me_resnet.utils.paths import dataset_root_from_env

MICRO_DATASETS = ("casme2", "samm", "smic")


def load_dataset(name: str, root, config: Config, annotations=None) -> LoadResult:
    """Load dataset ``name`` with the data switches of ``config`` (protocol, bad_apex, smic_apex)."""
    if name == "casme2":
        return load_casme2(root, protocol=config.protocol, bad_apex=config.bad_apex, annotations=annotations)
    if name == "samm":
        return load_samm(root, protocol=config.protocol, bad_apex=config.bad_apex, annotations=annotations)
    if name == "smic":
        if annotations is not None:
            raise ValueError(f"SMIC has no annotation file; got annotations={annotations!r}")
        return load_smic(root, protocol=config.protocol, smic_apex=config.smic_apex)
    raise ValueError(f"unknown dataset {name!r}; choose one of {list(MICRO_DATASETS)}")


def dataset_roots(casme2=None, samm=None, smic=None) -> dict[str, Path]:
    """Roots given as arguments, else from ``ME_RESNET_CASME2/SAMM/SMIC``; absent ones are left out."""
    given = {"casme2": casme2, "samm": samm, "smic": smic}
    roots = {}
    for name, value in given.items():
        path = Path(value).expanduser() if value else dataset_root_from_env(name)
        if path is not None:
            roots[name] = path
    return roots


__all__ = [
    "FER2013_CLASSES",
    "Fer2013Data",
    "LoadResult",
    "MICRO_DATASETS",
    "PROTOCOLS",
    "dataset_roots",
    "load_casme2",
    "load_dataset",
    "load_fer2013",
    "load_samm",
    "load_smic",
    "read_megc2019_list",
]
