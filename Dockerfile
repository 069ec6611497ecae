# Moodtape image. CPU by default:
#   docker build -t moodtape .
#   docker run --rm -v moodtape-data:/data moodtape similar "Battle for Wesnoth"
# GPU host (the scheduler's embedding worker): a CUDA runtime base and the matching torch index, e.g.
#   docker build -t moodtape:cuda \
#     --build-arg BASE_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 \
#     --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 .
#   docker run --gpus all -e MOODTAPE_DEVICE=cuda -v moodtape-data:/data moodtape:cuda worker
# Telegram webhook behind a TLS proxy on the host (inside the container the server must bind 0.0.0.0):
#   docker run -e MOODTAPE_TELEGRAM_TOKEN=... -e MOODTAPE_TELEGRAM_WEBHOOK_URL=https://bot.example.org/telegram \
#     -e MOODTAPE_TELEGRAM_WEBHOOK_LISTEN=0.0.0.0 -p 127.0.0.1:8443:8443 -v moodtape-data:/data moodtape run telegram
# (Not built in this project's CI: its machines have no Docker engine; `tests/test_container.py` checks the
# files and runs `docker compose config` where the compose plugin is installed.)
ARG BASE_IMAGE=python:3.11-slim

# ---- build: a virtual environment with torch (CPU or the CUDA index) and Moodtape, compilers never reach the image
FROM ${BASE_IMAGE} AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# CUDA base images have no Python 3.11+; Ubuntu 24.04's python3 is 3.12.
RUN if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import sys; assert sys.version_info >= (3, 11)'; then \
        apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
        && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --index-url "${TORCH_INDEX}" torch==2.13.0
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY core ./core
COPY db ./db
COPY training ./training
# postgres: the store for several hosts; voice: the offline speech recognisers for voice notes
RUN /opt/venv/bin/pip install '.[postgres,voice]'

# ---- run: the same base, the environment copied over, an unprivileged user
FROM ${BASE_IMAGE}
RUN if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import sys; assert sys.version_info >= (3, 11)'; then \
        apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --create-home --uid 10001 moodtape && mkdir -p /data && chown moodtape /data
COPY --from=build /opt/venv /opt/venv
# XDG_CACHE_HOME on the volume: the emotion model's int8 ONNX graph, exported on the first start (~8 s), is kept
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    MOODTAPE_DATA_DIR=/data \
    XDG_CACHE_HOME=/data/cache
USER moodtape
WORKDIR /home/moodtape
VOLUME /data
# the Telegram webhook server, when MOODTAPE_TELEGRAM_WEBHOOK_URL is set; /healthz and /metrics when
# MOODTAPE_HTTP_LISTEN is (bind 0.0.0.0:9464 inside, publish to the host's 127.0.0.1 only: no authentication)
EXPOSE 8443 9464
# Healthy when /healthz answers 200 (database, models, scheduler, bots); a container that serves no /healthz
# (a worker, a one-shot command: MOODTAPE_HTTP_LISTEN unset) has nothing to check and counts as healthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["python3", "-c", "import os, sys, urllib.request; a = os.environ.get('MOODTAPE_HTTP_LISTEN'); a or sys.exit(0); host, _, port = a.rpartition(':'); urllib.request.urlopen('http://%s:%s/healthz' % ('127.0.0.1' if host in ('', '0.0.0.0', '::', '[::]') else host, port), timeout=8)"]
ENTRYPOINT ["moodtape"]
CMD ["stats"]
