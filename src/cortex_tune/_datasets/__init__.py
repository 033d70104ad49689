"""Datasets: checked bulk loads, rows from files and frames, and their SQL."""
