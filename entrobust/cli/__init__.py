"""Command-line interface (``entrobust`` / ``python -m entrobust``)."""
