"""One call that sets up the walkthrough notebooks: quiet logs, small figures, JPEG output."""

from __future__ import annotations

import logging
import warnings

import matplotlib.pyplot as plt

FIGURE_RC = {"figure.dpi": 72, "font.size": 8}


def configure_notebook(jpeg_quality: int = 80) -> None:
    """Warnings-level logging, small matplotlib figures and, inside IPython, inline figures as JPEG.

    JPEG because face photographs and noisy flow maps are far smaller than PNG in a committed notebook.
    """
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto without ipywidgets
    plt.rcParams.update(FIGURE_RC)
    try:  # IPython comes with the notebook tooling (requirements-dev.txt), not with the package
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("jpeg", bbox_inches="tight", pil_kwargs={"quality": jpeg_quality})
