"""Generate the built-in shapes data set: boxes (A) and discs (B) with their masks.

The builder is instagan/data/builders/shapes.py (its docstring has examples); ``--help`` lists the flags.
"""

from instagan.data.builders.shapes import main
from instagan.util.cli import run

if __name__ == "__main__":
    run(main)
