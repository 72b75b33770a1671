"""Process settings from the environment (RISKWATCH_*), shared by worker, API and tools."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the broker, store and config are; every field is `RISKWATCH_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="RISKWATCH_", extra="ignore")

    broker: str = Field(default="kafka://127.0.0.1:9092", description="Kafka bootstrap, e.g. kafka://host:9092")
    database_url: str = Field(default="sqlite:///riskwatch.db", description="SQLAlchemy URL of the warning store")
    config_dir: Path | None = Field(default=None, description="Directory of YAML config; default: shipped sample city")
    data_dir: Path = Field(default=Path(".riskwatch"), description="Faust table state and local files")
    app_id: str = Field(default="riskwatch", description="Faust app id and consumer group prefix")
    partitions: int = Field(default=4, ge=1, description="Partitions of every riskwatch topic")
    replication_factor: int = Field(default=1, ge=1)
    snapshot_every_s: float = Field(default=30.0, gt=0, description="Seconds between snapshots of a partition's state")
    health_every_s: float = Field(
        default=10.0, gt=0, description="Seconds between a worker's health snapshots in the store (lag, counters)"
    )
    deadline_check_every_s: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between deadline rounds (escalation of missed acknowledge/resolve deadlines) in each "
        "worker; one replica at a time runs a round",
    )
    security_protocol: str = Field(default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    sasl_mechanism: str | None = Field(default=None, description="PLAIN or SCRAM-SHA-256/512")
    sasl_username: str | None = None
    sasl_password: str | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The broker list without the `kafka://` scheme, as kafka-python and aiokafka want it."""
        return ",".join(part.split("://", 1)[-1] for part in self.broker.split(","))

    @property
    def broker_url(self) -> str:
        """The broker list with a scheme on each entry, as Faust wants it."""
        return ";".join(p if "://" in p else f"kafka://{p}" for p in self.broker.split(","))
