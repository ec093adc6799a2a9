# Image Noise Removal: the FastAPI service on the bundled ONNX models. Serving dependencies only, no TensorFlow.
#   docker build -t image-noise-removal .                         # CPU (onnxruntime)
#   docker build --build-arg RUNTIME=gpu -t image-noise-removal:gpu .   # NVIDIA GPU (onnxruntime-gpu)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# cpu -> onnxruntime, gpu -> onnxruntime-gpu with CUDA/cuDNN wheels; never both (pyproject extras).
ARG RUNTIME=cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN /opt/venv/bin/pip install ".[${RUNTIME}]"

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY models /srv/models
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DENOISE_MODELS_DIR=/srv/models
USER 10001
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]
# Exec form: uvicorn is PID 1's child-free main process and gets SIGTERM; in-flight requests finish.
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "30", "--no-access-log"]
