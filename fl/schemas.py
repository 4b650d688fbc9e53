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
    invite: str | None = Field(None, max_length=200,
                               description="an invite code: needed by a federation whose"
                                           " enrollment is invite")


class Health(BaseModel):
    status: Literal["ok"]


class Registration(BaseModel):
    client_id: int
    token: str = Field(description="bearer token for POST /api/update; shown only once")
    federation: str


class LiveRound(BaseModel):
    id: int
    status: Literal["open", "collecting"]
    kind: Literal["plain", "secure"] = Field(description="how the round aggregates")
    phase: Literal["advertise", "share", "mask", "reveal"] | None = Field(
        None, description="a secure round's phase (fl.secure_rounds)")
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
    mode: Literal["secure", "plain"] = Field(
        description="secure: secure aggregation, the server learns only the sum (FedAvg);"
                    " plain: updates in the clear, for the robust aggregators")
    enrollment: Literal["open", "invite"] = Field(
        description="open: anyone may register; invite: registering needs an invite code")
    secure: "SecureRules | None" = Field(None, description="a secure federation's rules")
    privacy: "Privacy"
    round: LiveRound


class Privacy(BaseModel):
    mode: Literal["none", "client", "example"] = Field(
        description="client: client-level differential privacy (each member counts once, the"
                    " server adds Gaussian noise to the sum); example: example-level (each"
                    " browser adds the noise to its own class sums, one release); none: no DP."
                    " Round 1 of both publishes the head of the noisy class sums")
    epsilon: float | None = Field(description="epsilon spent so far at delta (dp-accounting,"
                                              " RDP), from the federation's ledger")
    delta: float | None
    noise_multiplier: float | None = Field(description="z: noise std = z x the bound (round 1:"
                                                       " 1; later: clip) on the sum, or in"
                                                       " each browser (example mode)")
    clip: float
    target_epsilon: float | None
    rounds: int = Field(description="rounds published with noise")
    exhausted: bool = Field(description="one more round would exceed the target: rounds stop")
    noise: Literal["server", "distributed", "local"] | None = Field(
        description="who adds the noise: the server (client mode), every member its share of"
                    " it (distributed) or all of it (local)")
    member_noise_multiplier: float | None = Field(
        description="the noise multiplier of one member's input on its own (z / sqrt(t) for"
                    " distributed noise, t the round's threshold; z for local); null when the"
                    " server adds the noise")
    member_epsilon: float | None = Field(
        description="epsilon of one member's input on its own, were its masking broken")


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
    status: Literal["open", "collecting", "aggregated", "failed", "aborted"]
    kind: Literal["plain", "secure"]
    phase: Literal["advertise", "share", "mask", "reveal"] | None
    cohort: int | None = Field(description="secure: members when sharing began")
    shared: int | None = Field(description="secure: members that shared their keys (U2)")
    survivors: int | None = Field(description="secure: members that sent their input (U3)")
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


class SecureRules(BaseModel):
    cohort_target: int = Field(description="members that start a secure round at once")
    min_cohort: int = Field(description="the fewest members a secure round starts with")
    weight_cap: int = Field(description="a member's weight (its example count) counts at"
                                        " most this")
    phase_seconds: float = Field(description="how long each phase after advertise waits")


class SecureStateQuery(BaseModel):
    federation: str = Field("default", max_length=200)
    round: int | None = Field(None, ge=0, lt=2 ** 32,
                              description="the round asked about (default: the live one)")


class SecureRoundQuery(BaseModel):
    federation: str = Field("default", max_length=200)
    round: int = Field(ge=0, lt=2 ** 32)


Base64 = Field(max_length=4096, description="standard base64")


class SecureJoin(BaseModel):
    round: int = Field(ge=0, lt=2 ** 32)
    encryption_key: str = Base64
    mask_key: str = Base64


class SecureShares(BaseModel):
    round: int = Field(ge=0, lt=2 ** 32)
    shares: dict[str, str] = Field(max_length=255, description="receiver id -> sealed share")


class SecureReveal(BaseModel):
    round: int = Field(ge=0, lt=2 ** 32)
    seed: dict[str, str] = Field(max_length=255, description="owner id -> seed share")
    key: dict[str, str] = Field(max_length=255, description="owner id -> mask-key share")


class SecureJoined(BaseModel):
    round: int
    members: int
    cohort_target: int


class SecureAccepted(BaseModel):
    round: int
    accepted: bool


class SecureMember(BaseModel):
    id: int
    encryption_key: str
    mask_key: str


class SecureState(BaseModel):
    round: int
    phase: Literal["advertise", "share", "mask", "reveal", "aggregated", "aborted"]
    mode: Literal["secure", "plain"]
    base_version: int
    cohort_target: int
    min_cohort: int
    clip: float
    weight_cap: int
    input: Literal["delta", "class_sums"] = Field(
        description="what a member sends: its trained delta, or (a private federation's first"
                    " round, every round of the example mode) its class sums")
    length: int = Field(description="words of an input")
    deadline: float | None = Field(description="when the phase ends")
    result_version: int | None
    detail: str | None
    cohort_size: int | None = None
    graph_seed: int | None = None
    scale: float | None = None
    members: list[SecureMember] | None = None
    shared: list[int] | None = Field(None, description="members that shared (U2)")
    survivors: list[int] | None = Field(None, description="members that sent input (U3)")


class SecureInbox(BaseModel):
    round: int
    shares: dict[str, str] = Field(description="sender id -> sealed share for you")


Federation.model_rebuild()
