# Service image: the zcpark API (uvicorn) against an external PostgreSQL/TimescaleDB (DATABASE_URL).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY energy ./energy
COPY carbon ./carbon
COPY simulations ./simulations
COPY migrations ./migrations
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# CJK glyphs for the Chinese labels of the scenario plots (matplotlib finds Noto Sans CJK SC)
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 zcpark
COPY --from=build /install /usr/local
USER zcpark
WORKDIR /home/zcpark
ENV ZCPARK_DATA_DIR=/home/zcpark/.zcpark \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
# `zcpark serve` migrates on start; the scheduler runs in one process only (advisory lock).
CMD ["zcpark", "serve", "--host", "0.0.0.0", "--port", "8000"]
