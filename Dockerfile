# Chronicle's processes for docker-compose and production; servers come from CHRONICLE_*_URL.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY application application
COPY infrastructure infrastructure
COPY projections projections
COPY api api
COPY clients/python clients/python
RUN pip install --no-cache-dir ./clients/python . && useradd --create-home chronicle
USER chronicle
ENV CHRONICLE_HOST=0.0.0.0 CHRONICLE_PORT=8000 CHRONICLE_DATA_DIR=/home/chronicle/data
EXPOSE 8000
CMD ["chronicle", "serve"]
