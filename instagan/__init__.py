"""InstaGAN (Mo, Cho and Shin, ICLR 2019) on PyTorch 2.x.

The code lives in the repository's top-level folders (models, data, options, util, evaluation, reporting) and
scripts (train.py, test.py, evaluate.py, translate.py), as in CycleGAN's layout; this package gives them one
importable name, ``instagan.models``, ``instagan.train``, ..., so that an installed copy puts nothing but
``instagan`` into site-packages. Installed, the folders sit inside this package; in a checkout they sit beside it.
"""

from pathlib import Path

_here = Path(__file__).resolve().parent
if not (_here / "models").is_dir():  # a checkout: the packages are the folders beside this one
    __path__.append(str(_here.parent))  # noqa: F821 (a package's __path__)

__version__ = "0.2.0"
