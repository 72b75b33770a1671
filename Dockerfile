# The riskwatch image: worker and operator CLI (`riskwatch --help`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY config ./config
COPY detectors ./detectors
COPY streams ./streams
COPY alerts ./alerts
COPY simulator ./simulator
COPY tools ./tools
RUN pip install . && rm -rf /src/build

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/riskwatch riskwatch
USER riskwatch
WORKDIR /var/lib/riskwatch
ENV RISKWATCH_DATA_DIR=/var/lib/riskwatch

EXPOSE 8000
CMD ["riskwatch", "--help"]
