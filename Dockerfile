# One image for the web app and both kinds of worker. Build the GPU flavour with
#   docker build --build-arg TORCH_SPEC="torch==2.13.0" --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
FROM python:3.11-slim
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX="https://download.pytorch.org/whl/cpu"
# PYTHONPATH: run the code from /app, where migrations/ sits beside the packages.
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 STEPWISE_INSTANCE_DIR=/data PYTHONPATH=/app
WORKDIR /app
COPY pyproject.toml README.md ./
COPY grader grader
COPY worker worker
COPY tasks tasks
COPY web web
COPY store store
COPY lms lms
COPY stepwise stepwise
COPY migrations migrations
RUN pip install --index-url "$TORCH_INDEX" "$TORCH_SPEC" \
 && pip install ".[model]"
RUN useradd --create-home --uid 1000 stepwise && mkdir -p /data && chown stepwise /data
USER stepwise
EXPOSE 8000
CMD ["gunicorn", "-c", "python:web.gunicorn_conf", "web:create_app()"]
