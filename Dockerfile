# datacall: one image for the workers (`datacall run`) and the web app (`datacall serve`).
# Configuration is mounted at /etc/datacall/datacall.toml; secrets come from the environment.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATACALL_CACHE_DIR=/var/lib/datacall/cache

RUN groupadd --system --gid 10001 datacall \
    && useradd --system --uid 10001 --gid datacall --home-dir /var/lib/datacall --create-home \
       --shell /usr/sbin/nologin datacall

WORKDIR /opt/datacall/src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY classifiers ./classifiers
COPY storage ./storage
RUN pip install --no-cache-dir .

# Numeric, so the host and Kubernetes' runAsNonRoot can check it is not root.
USER 10001:10001
WORKDIR /var/lib/datacall
# The classifier is trained once, into the image, so workers start without training it.
RUN datacall train

EXPOSE 8000
ENTRYPOINT ["datacall"]
CMD ["--help"]
