"""Checks across revisions: the same runs give the same reports."""
