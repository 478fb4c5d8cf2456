# syntax=docker/dockerfile:1
#
# One image for every Dataflow process. The command picks the component:
#
#   python -m flow_automation         orchestrator API + OAuth2 server  (8081)
#   python -m coderunner              sandboxed code runner             (8082)
#   python -m ecron                   distributed cron                  (8083)
#   python -m stream_pipeline         stream pipeline API               (8084)
#   python -m flow_web                web UI (default command)          (8080)
#   python -m flow_automation.executor   orchestrator executor (no port)
#   python -m stream_pipeline.worker     stream worker (no port)
#   dataflow ...                      administration CLI
#
# Build:  docker build -t dataflow:0.1.0 .
# Needs BuildKit (the default builder since Docker 23): the front-end stage
# copies flow_web/frontend through a wildcard so the build also works while
# that folder does not exist yet.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# 1. The flow_web front end (flow_web/frontend -> flow_web/static/dist).
#    Without flow_web/frontend/package.json this stage yields an empty dist
#    directory and the UI serves its placeholder page.
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS frontend
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /build/flow_web
# Manifests first, so dependencies are cached until they change.
COPY flow_web/fronten[d]/package*.json ./frontend/
RUN mkdir -p frontend static/dist \
 && if [ -f frontend/package.json ]; then npm --prefix frontend ci; fi
COPY flow_web/fronten[d] ./frontend/
RUN if [ -f frontend/package.json ]; then \
        npm --prefix frontend run build \
        && if [ -z "$(ls -A static/dist)" ]; then \
               echo "npm run build must write the UI to flow_web/static/dist" >&2; exit 1; \
           fi; \
    else \
        echo "flow_web/frontend not present: building without a front end"; \
    fi

# ---------------------------------------------------------------------------
# 2. Python: a virtual environment with the dependencies and the project.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS python-build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/dataflow
ENV PATH=/opt/dataflow/bin:$PATH
WORKDIR /src
# Dependencies in their own layer, rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY common ./common
COPY flow_automation ./flow_automation
COPY coderunner ./coderunner
COPY ecron ./ecron
COPY stream_pipeline ./stream_pipeline
COPY flow_web ./flow_web
COPY --from=frontend /build/flow_web/static/dist ./flow_web/static/dist
RUN pip install --no-deps . \
 && python -c "import common, flow_automation, coderunner, ecron, stream_pipeline, flow_web"

# ---------------------------------------------------------------------------
# 3. Runtime: slim Python, Tesseract for coderunner's OCR, a non-root user.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="dataflow" \
      org.opencontainers.image.description="Self-hosted data pipelines: orchestrator, code runner, distributed cron, stream processing and web UI." \
      org.opencontainers.image.licenses="Apache-2.0"

# tini reaps the sandbox worker processes of coderunner and forwards signals.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tini \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 dataflow \
 && useradd --system --uid 10001 --gid dataflow --home-dir /home/dataflow --create-home \
        --shell /usr/sbin/nologin dataflow \
 && install -d -o dataflow -g dataflow -m 0750 /var/lib/dataflow

COPY --from=python-build /opt/dataflow /opt/dataflow

# Containers listen on every interface (the code's default is loopback only);
# state (artifacts unless DATAFLOW_ARTIFACT_URL is set) lives in /var/lib/dataflow,
# which Kubernetes and Compose mount as a scratch volume.
ENV PATH=/opt/dataflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATAFLOW_BIND_ADDRESS=0.0.0.0 \
    DATAFLOW_STATE_DIR=/var/lib/dataflow \
    HOME=/home/dataflow

WORKDIR /var/lib/dataflow
USER 10001:10001

EXPOSE 8080 8081 8082 8083 8084

# No HEALTHCHECK here: the same image runs services on different ports and
# workers without HTTP; docker-compose.yml and the Helm chart probe each one.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "flow_web"]
