"""Collaborative-filtering models: songs that people put in the same playlists belong together.

Everything here runs inside the engine (the scheduler refreshes the `cf` vectors at run time), so it depends
on numpy, scipy and torch only, never on `training/`.
"""
