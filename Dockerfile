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
# (Not built in this project's CI: its machines have no Docker engine.)
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    MOODTAPE_DATA_DIR=/data

# CUDA base images have no Python 3.11+; Ubuntu 24.04's python3 is 3.12.
RUN if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import sys; assert sys.version_info >= (3, 11)'; then \
        apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
        && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /app
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --index-url "${TORCH_INDEX}" torch==2.13.0
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY core ./core
COPY db ./db
COPY training ./training
RUN /opt/venv/bin/pip install '.[postgres]' && useradd --create-home --uid 10001 moodtape && mkdir -p /data \
    && chown moodtape /data

ENV PATH=/opt/venv/bin:$PATH
USER moodtape
VOLUME /data
# the Telegram webhook server, when MOODTAPE_TELEGRAM_WEBHOOK_URL is set
EXPOSE 8443
ENTRYPOINT ["moodtape"]
CMD ["stats"]
