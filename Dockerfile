# SmartCourse's own processes for docker-compose.yml (command-api, query-api, relay, workers).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY smartcourse smartcourse
COPY commands commands
COPY projections projections
COPY streams streams
COPY query_api query_api
COPY infra infra
COPY bench bench
COPY operations operations
COPY schemas schemas
# Editable: the code reads schemas/ and infra/ beside itself (PROJECT_ROOT).
RUN pip install --no-cache-dir -e .
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
EXPOSE 8000 8001 9464 9465 9466
CMD ["smartcourse", "--help"]
