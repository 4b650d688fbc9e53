"""The API's request and answer schemas (pydantic): they check what comes in, shape what
goes out and are what ``/api/openapi.json`` is generated from."""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FederationQuery(BaseModel):
    federation: str = Field("default", max_length=200,
                            description="federation name (default: default)")


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    federation: str = Field("default", max_length=200,
                            description="the federation to join (default: default)")


class Health(BaseModel):
    status: Literal["ok"]


class Registration(BaseModel):
    client_id: int
    token: str = Field(description="bearer token for POST /api/update; shown only once")
    federation: str


class LiveRound(BaseModel):
    id: int
    status: Literal["open", "collecting"]
    base_version: int = Field(description="the head version updates must be trained from")
    opened_at: float
    deadline: float
    accepted: int


class Federation(BaseModel):
    name: str
    labels: list[str]
    dim: int
    encoder: str
    hidden_size: int
    head_version: int
    clip_bound: float = Field(description="the largest L2 norm an update may have")
    min_updates: int
    round_seconds: float
    aggregator: str
    max_update_bytes: int
    wire_format: int = Field(description="tinybert_core.codec.FORMAT_VERSION")
    round: LiveRound


class UpdateAccepted(BaseModel):
    accepted: bool
    round: int = Field(description="the round that took the update")
    accepted_in_round: int
    round_closed: bool = Field(description="this update closed its round")
    head_version: int = Field(description="the head version once committed")
    current_round: int = Field(description="the live round once committed")


class Conflict(BaseModel):
    error: Literal["stale_round", "stale_base", "replay"] = Field(
        description="the reason counted in the round")
    detail: str
    current_round: int = Field(description="the live round when refused")
    head_version: int = Field(description="the global head version then")


class Round(BaseModel):
    id: int
    federation: str
    status: Literal["open", "collecting", "aggregated", "failed"]
    base_version: int
    result_version: int | None
    opened_at: float
    deadline: float
    closed_at: float | None
    min_updates: int
    accepted: int
    refused: int
    refusals: dict[str, int] = Field(description="refusals counted by reason")
    detail: str | None = Field(description="why a failed round failed")


class MessageCount(BaseModel):
    messages: int
    bytes: int


class PeerStats(BaseModel):
    federation: str
    process: int = Field(description="the server process whose counters these are")
    online: int = Field(description="members connected to the signalling socket now")
    received: dict[str, MessageCount] = Field(
        description="per message type, what peers sent this process")
    sent: dict[str, MessageCount] = Field(
        description="per message type, what this process sent to peers")
    max_message_bytes: int
