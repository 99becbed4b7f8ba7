"""Build a two-domain data set from LV-MHP v1 (people wearing cat1 vs cat2).

The builder is instagan/data/builders/mhp.py (its docstring has examples); ``--help`` lists the flags.
"""

from instagan.data.builders.mhp import main
from instagan.util.cli import run

if __name__ == "__main__":
    run(main)
