"""The test suite (a package, so that ``tests.conftest`` is this one even where another package named tests is installed)."""
