# The cinelake command line in a container (no Docker engine on CI: tests/test_docker.py lints
# this file and runs its ENTRYPOINT + CMD outside Docker against a local S3 server).
#   docker build -t cinelake .
#   docker run --rm --env-file .env -v "$PWD/data:/data" cinelake ingest-csv
# with the .env paths pointing inside the container (CAMINHO_DO_ARQUIVO_LOCAL_MOVIES=/data/movies.csv).
# No secret is baked in: .env is in .dockerignore and credentials arrive only at `docker run`.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/cinelake
COPY pyproject.toml README.md ./
COPY src ./src

# The crt extra brings awscrt, so objects carry CRC64NVME, S3's default full-object checksum.
# The source tree is removed once installed; the unprivileged user owns only /data.
RUN pip install --no-cache-dir "./[crt]" \
    && rm -rf /opt/cinelake \
    && useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin cinelake \
    && mkdir -p /data \
    && chown cinelake:cinelake /data

USER 10001:10001
# Relative paths and the default local lake (./lake) resolve inside the mounted folder.
WORKDIR /data
ENTRYPOINT ["cinelake"]
CMD ["ingest-csv"]
