"""Repository-wide pytest set-up: under --nbval, each chapter's exercise solutions are proven after its last cell.

(tools.exercise_proof adds the items; tests/conftest.py holds the unit tests' fixtures.)
"""

from tools.exercise_proof import pytest_collection_modifyitems  # noqa: F401 - a pytest hook
