"""Execution plans: action types, an approved order's plan of steps, receipts against
collection steps, and the reminder and dunning sweep.

The orders workflow asks this package two things (see hooks.py): whether a plan still
blocks an order's completion, and what the plan says about money.
"""
