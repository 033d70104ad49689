"""The machinery behind ``python3 tasks.py``: interpreters, environments and the task bodies.

Standard library only: ``tasks.py`` runs on a fresh machine with nothing but Python.
"""
