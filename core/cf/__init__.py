"""Collaborative-filtering models: songs that people put in the same playlists belong together.

Everything here runs inside the engine (the scheduler refreshes the `cf` vectors at run time), so it depends
on numpy, scipy and torch only, never on `training/`.  The package re-exports what the recommenders read
(the stored model state and the vector search); the fitting side (`refresh.refresh_cf` and the models in
`als`, `dae`, `itemknn`, `matrix`) needs scipy and torch, so it is imported from its module when a refit
actually runs rather than with the package.
"""

from moodtape.core.cf.search import knn_in_versions
from moodtape.core.cf.state import CFState, load_bridge, load_state, save_state

__all__ = ["CFState", "knn_in_versions", "load_bridge", "load_state", "save_state"]
