# The manual route to the Lambda layer: the same pinned, hashed closure as
# `cinelake lambda build`, installed by Amazon Linux 2023's own Python 3.12 (the OS of the
# python3.12/3.13 runtimes), giving the same python/ tree. For arm64 add --platform linux/arm64.
#   docker build -f docker/layer.Dockerfile -o dist/lambda-docker .
# The zip tool differs from cinelake's, so the bytes (not the tree) differ from `lambda build`.
FROM amazonlinux:2023 AS build

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# dnf packages are not pinned: AL2023 repositories are versioned by the image's release,
# so the base image tag fixes them; the layer's own contents are pinned by hash below.
# hadolint ignore=DL3041
RUN dnf install -y python3.12 python3.12-pip zip findutils \
    && dnf clean all

WORKDIR /opt/layer
COPY deploy/layer-requirements.txt /tmp/layer-requirements.txt

# --no-deps + --require-hashes: exactly the pinned wheels, nothing resolved at build time.
# Then the same clean-up as cinelake/aws_lambda/build.py: no bin/ (build-machine shebangs), no bytecode,
# no RECORD lines for them, fixed permissions and timestamps, sorted entries.
RUN python3.12 -m pip install --no-cache-dir --no-compile --no-deps --require-hashes \
        --only-binary=:all: -r /tmp/layer-requirements.txt --target /opt/layer/python \
    && rm -rf /opt/layer/python/bin \
    && find /opt/layer/python -name __pycache__ -type d -prune -exec rm -rf {} + \
    && sed -i -e '/^\.\.\//d' -e '/__pycache__\//d' /opt/layer/python/*.dist-info/RECORD \
    && find /opt/layer/python -type d -exec chmod 0755 {} + \
    && find /opt/layer/python -type f -exec chmod 0644 {} + \
    && find /opt/layer/python -exec touch -h -d @315532800 {} + \
    && find python -print0 | LC_ALL=C sort -z | xargs -0 zip -X -9 -q /opt/layer/layer.zip

FROM scratch
COPY --from=build /opt/layer/layer.zip /layer.zip
