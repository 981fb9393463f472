"""Schedules, conditional and event triggers, workflows."""
