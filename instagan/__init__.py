"""InstaGAN (Mo, Cho and Shin, ICLR 2019) on PyTorch 2.x.

The code lives in the repository's top-level folders (models, data, options, util, evaluation, reporting) and
scripts (train.py, test.py, evaluate.py, translate.py, export.py), as in CycleGAN's layout; this package gives them
one importable name, ``instagan.models``, ``instagan.train``, ..., through relative symbolic links (``instagan/models
-> ../models``), so that Python, an editable install, pyright, mypy and editors all resolve the same files. An
installed copy holds the folders themselves and puts nothing but ``instagan`` into site-packages.
"""

__version__ = "0.2.0"
