"""Settings for every part of Moodtape, read once from the environment and `.env`.

One class keeps the whole configuration surface discoverable (`moodtape config` prints it) and lets every
front end share the same engine settings.  Secrets are `SecretStr` so they never end up in logs or reprs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

APP_NAME = "moodtape"


def default_data_dir() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_cache_dir() -> Path:
    """Where derived files that can be made again live (the emotion models' exported ONNX graphs)."""
    return Path(user_cache_dir(APP_NAME, appauthor=False))


class Settings(BaseSettings):
    """All knobs, env prefix `MOODTAPE_` (e.g. `MOODTAPE_DB=/srv/moodtape.db`)."""

    model_config = SettingsConfigDict(
        env_prefix="MOODTAPE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # --- storage -------------------------------------------------------------------------------------------
    data_dir: Path = Field(default_factory=default_data_dir, description="Where the database and backups live.")
    db: Path | None = Field(default=None, description="SQLite database file (default: DATA_DIR/moodtape.db).")
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:password@host/db: use this PostgreSQL server (with the pgvector extension) "
                    "instead of the SQLite file, so bots and GPU workers on several hosts share one catalogue.",
    )
    pg_ef_search: int = Field(
        default=500, ge=1, le=1000,
        description="PostgreSQL only: HNSW candidates per search (pgvector's hnsw.ef_search). Higher: better "
                    "recall, slower searches; a search-time knob, no rebuild needed.",
    )
    demo: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Use the bundled demo catalogue: 'auto' while the database has no ready tracks of its own.",
    )
    ann_min_tracks: int = Field(
        default=50_000, ge=1,
        description="From this many vectors of a kind, searches use an approximate HNSW index (built in the "
        "background, saved beside the database) instead of sqlite-vec's exact scan.",
    )

    # --- audio ---------------------------------------------------------------------------------------------
    max_duration_s: float = Field(default=1200.0, gt=0, description="Longer audio is refused (seconds).")
    max_file_bytes: int = Field(default=200 * 1024 * 1024, gt=0, description="Bigger files are refused.")
    analysis_s: float = Field(
        default=120.0, gt=0, description="Seconds of audio (from the middle of the track) that embeddings see."
    )
    ffmpeg: str | None = Field(default=None, description="ffmpeg binary (default: system ffmpeg or imageio-ffmpeg).")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="Where models run.")

    # --- models --------------------------------------------------------------------------------------------
    emotion_model: str | None = Field(
        default=None,
        description="Hugging Face id or local path of an emotion classifier (default: the bundled model).",
    )
    korean_emotion_model: str | None = Field(
        default=None, description="Classifier for Hangul text (default: the bundled Korean model)."
    )
    emotion_int8: bool = Field(
        default=True,
        description="Transformer emotion models run int8 on CPU (GPUs keep float): an int8 graph in ONNX "
                    "Runtime, exported once into the cache folder (torch's int8 Linear layers where that is not "
                    "possible): 1.7x the length-grouped float path's batched throughput at a macro-F1 0.0012 lower "
                    "on GoEmotions dev; ~4% of labels differ from float and a reading moves slightly with the "
                    "messages batched with it (activations are scaled per call). false: float readings, identical "
                    "however batched.",
    )

    # --- recommendation ------------------------------------------------------------------------------------
    default_k: int = Field(default=5, ge=1, le=100)
    weight_audio: float = Field(default=0.6, ge=0, description="Weight of audio similarity in `similar`.")
    weight_cf: float = Field(default=0.4, ge=0, description="Weight of collaborative similarity in `similar`.")
    taste_half_life_days: float = Field(
        default=30.0, gt=0,
        description="A 👍/👎 moves that person's later answers with weight 0.5 ** (age in days / this): "
                    "a month-old vote counts half.",
    )

    # --- network -------------------------------------------------------------------------------------------
    allow_private_networks: bool = Field(
        default=False, description="Allow links that resolve to private/loopback addresses (tests, LAN setups)."
    )
    download_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    download_timeout_s: float = Field(default=60.0, gt=0)
    max_tracks_per_link: int = Field(default=200, ge=1, le=10_000,
                                     description="Most tracks one playlist or album link adds.")
    max_redirects: int = Field(default=5, ge=0, le=20, description="Redirect hops followed (each one re-checked).")
    deezer_api_url: str = Field(default="https://api.deezer.com", description="Deezer public API root.")
    spotify_oembed_url: str = Field(default="https://open.spotify.com/oembed", description="Spotify oEmbed API.")
    spotify_open_url: str = Field(default="https://open.spotify.com", description="Spotify web player (page data).")

    # --- bots ----------------------------------------------------------------------------------------------
    telegram_token: SecretStr | None = None
    telegram_admins: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_api_url: str | None = Field(default=None, description="Bot API root of a local Bot API server.")
    telegram_webhook_url: str | None = Field(
        default=None, description="Public URL Telegram POSTs updates to (webhook mode); unset: long polling."
    )
    telegram_webhook_listen: str = Field(default="127.0.0.1", description="Address the webhook server binds.")
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535, description="Port the webhook server binds.")
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, description="Secret Telegram sends with each update (default: a new random one per start)."
    )
    discord_token: SecretStr | None = None
    discord_admin_role: str | None = None
    user_cooldown_s: float = Field(default=2.0, ge=0, description="Minimum seconds between one user's requests.")
    http_listen: str | None = Field(
        default=None,
        description="HOST:PORT where `moodtape run` serves /healthz and /metrics (Prometheus), e.g. "
                    "127.0.0.1:9464; unset: no HTTP endpoint.",
    )

    # --- jobs ----------------------------------------------------------------------------------------------
    embed_interval_s: float = Field(default=60.0, gt=0)
    backup_interval_h: float = Field(default=24.0, gt=0)
    cf_refresh_interval_h: float = Field(
        default=6.0, gt=0, description="At most this often, refit collaborative vectors when playlists or 👍/👎 changed."
    )
    cf_method: Literal["als", "itemknn", "dae"] = Field(default="als", description="Collaborative model of refreshes.")
    backup_keep: int = Field(default=7, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    embed_batch_size: int | None = Field(
        default=None, ge=1, description="Tracks per embedding batch (default: 8 on CPU, 32 on CUDA)."
    )
    job_lease_s: float = Field(
        default=300.0, gt=0, description="A running job whose worker stops renewing it this long is requeued."
    )

    @field_validator("telegram_admins", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        if isinstance(value, int):
            return [value]
        return value

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.data_dir / "moodtape.db"

    @property
    def database(self) -> Path | str:
        """What the store opens: the PostgreSQL URL when one is set, else the SQLite file."""
        if self.database_url is not None and self.database_url.get_secret_value().strip():
            return self.database_url.get_secret_value().strip()
        return self.db_path

    @property
    def database_label(self) -> str:
        """`database` for messages and `moodtape stats`: a URL without its password."""
        target = self.database
        if isinstance(target, str):
            from moodtape.db.locations import redact

            return redact(target)
        return str(target)

    @property
    def cache_dir(self) -> Path:
        return default_cache_dir()

    @property
    def backup_dir(self) -> Path:
        return self.db_path.parent / "backups"


def load_settings(**overrides: object) -> Settings:
    """Settings from env/.env with explicit overrides (CLI flags) taking precedence."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)
