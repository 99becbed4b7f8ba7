"""Scoring translations: the judge, the ground truth of the shapes data, realism, FID/KID (evaluate.py)."""
