"""Build a two-domain data set from MS COCO with its instance masks.

The builder is instagan/data/builders/coco.py (its docstring has examples); ``--help`` lists the flags.
"""

from instagan.data.builders.coco import main
from instagan.util.cli import run

if __name__ == "__main__":
    run(main)
