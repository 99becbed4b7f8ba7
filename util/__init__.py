"""Utilities shared by the entry points, the model and the data loaders."""
