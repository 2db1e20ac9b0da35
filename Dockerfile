# The operator image: `orchestration-operator run`, as a non-root user, on a pinned Python base.
#
#   docker build -t orchestration-operator:0.1.0 .
#
# Two stages: the first builds a wheel of the project and installs it with its run-time dependencies
# into a venv (no `testing` or `dev` extras: the emulator and sandbox dependencies stay out); the
# second copies only that venv onto a clean base.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install /wheels/orchestration_operator-*.whl

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="orchestration-operator" \
      org.opencontainers.image.description="Drives a Drupal site's Orchestration API from Kubernetes custom resources" \
      org.opencontainers.image.licenses="GPL-2.0-or-later"
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# 65532: the conventional "nonroot" uid; the Helm chart runs the pod with the same ids.
USER 65532:65532
# health (/healthz) and metrics (/metrics)
EXPOSE 8080 9090
ENTRYPOINT ["orchestration-operator", "run"]
