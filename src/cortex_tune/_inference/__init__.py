"""Inference in the warehouse: batches and tables of completions, and evaluation."""
