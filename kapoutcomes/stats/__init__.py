"""Estimators only (intervals, survival): no clinical imports."""
