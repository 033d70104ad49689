"""Backends: the one seam through which statements reach an engine."""
