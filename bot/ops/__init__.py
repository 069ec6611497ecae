"""Operations: `/healthz` and `/metrics` (Prometheus) for `moodtape run`, and the counters the bots feed.

`metrics` holds the Prometheus objects and `observe`, which each front end wraps around a request; `health`
decides whether the service is fit to answer; `server` serves both over HTTP on `MOODTAPE_HTTP_LISTEN`.
"""

from moodtape.bot.ops.health import HealthChecks
from moodtape.bot.ops.metrics import observe
from moodtape.bot.ops.server import OpsServer

__all__ = ["HealthChecks", "OpsServer", "observe"]
