"""Build a two-domain data set from clothing co-parsing (photos with cat1 vs cat2).

The builder is instagan/data/builders/ccp.py (its docstring has examples); ``--help`` lists the flags.
"""

from instagan.data.builders.ccp import main
from instagan.util.cli import run

if __name__ == "__main__":
    run(main)
