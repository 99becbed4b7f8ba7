"""InstaGAN (Mo, Cho and Shin, ICLR 2019) on PyTorch 2.4 and newer.

The code lives in the repository's top-level folders (models, data, options, util, evaluation, reporting) and
scripts (train.py, test.py, evaluate.py, translate.py, export.py), as in CycleGAN's layout; this package gives them
one importable name, ``instagan.models``, ``instagan.train``, ..., through relative symbolic links (``instagan/models
-> ../models``), so that Python, an editable install, pyright, mypy and editors all resolve the same files. An
installed copy holds the folders themselves and puts nothing but ``instagan`` into site-packages.
"""

import sys

__version__ = "0.2.0"


class MismatchedTorchvision(ImportError):
    """torchvision was built for another torch, so its operators cannot register; the message names both versions
    and the command that installs a matching pair."""


def _check_torchvision() -> None:
    """Import torchvision here, before any module of the package does, so that a torchvision built for another torch
    ends a command in one line instead of a traceback through torchvision's operator registrations."""
    try:
        import torchvision  # noqa: F401
    except RuntimeError as err:  # "operator torchvision::nms does not exist"
        if "torchvision::" not in str(err):
            raise
        from importlib.metadata import PackageNotFoundError, version

        import torch

        try:
            vision = version("torchvision")
        except PackageNotFoundError:
            vision = "(unknown version)"
        build = torch.__version__.partition("+")[2]  # cpu, cu124, ...: the index it came from
        index = f" --index-url https://download.pytorch.org/whl/{build}" if build else ""
        message = (f"torch {torch.__version__} and torchvision {vision} do not match ({err}): install a matching pair "
                   f"from the same index: pip install torch torchvision --force-reinstall{index}")  # fmt: skip
        previous = sys.excepthook

        def one_line(kind, value, traceback) -> None:  # a command that stops here prints the message alone
            if issubclass(kind, MismatchedTorchvision):
                print(f"error: {value}", file=sys.stderr)
            else:
                previous(kind, value, traceback)

        sys.excepthook = one_line
        raise MismatchedTorchvision(message) from None


_check_torchvision()
