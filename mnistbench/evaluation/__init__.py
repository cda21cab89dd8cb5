"""Scoring fitted models and records: the statistics (intervals, paired tests), nested-CV
tuning and the corrupted test sets. Computes numbers and data frames; writes no files."""
