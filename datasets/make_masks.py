"""Write instance masks for a folder of plain photos with torchvision's Mask R-CNN.

The builder is instagan/data/builders/masks.py (its docstring has examples); ``--help`` lists the flags.
"""

from instagan.data.builders.masks import main
from instagan.util.cli import run

if __name__ == "__main__":
    run(main)
