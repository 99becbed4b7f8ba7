"""The data set builders: each writes the standard layout (docs/datasets.md) from a source data set or draws one.

``common`` holds what they share (a ``BuildFolder`` owns its output folder, writing samples, resizing, clear
errors); ``coco``, ``mhp`` and ``ccp`` read the real data sets, ``shapes`` draws the built-in one, ``masks`` detects
instances in plain photos. The command lines are the scripts in the repository's datasets/ folder.
"""
