"""Moodtape."""
