"""The operator's commands (``python -m fl federation|invite|clients|rounds|head|ledger ...``).

Each command takes the app (its database and settings, from the environment) and the parsed
arguments, prints what it did or found (tables for people, ``--json`` for scripts) and
returns the exit status: 0 done, 2 a request that cannot be carried out (unknown
federation, client or invite; a federation that exists already), said on stderr. The
database is brought up to date first (SQLite) or must be (PostgreSQL), as for serving.
"""
import json
import re
import struct
import sys
import time

from sqlalchemy import func, select

from fl import client_privacy, enrollment, ledger, rounds, secure_rounds, store
from fl.tables import clients, federations, refusals, updates
from fl.tables import rounds as rounds_table

DEFAULT_SPEC = {"dim": 384, "encoder": "sentence-transformers/all-MiniLM-L6-v2",
                "hidden_size": 384}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class OperatorError(Exception):
    """A command that cannot be carried out; the message says why."""


def duration(text):
    """Seconds in ``text``: a number with an optional unit s, m, h or d (``7d``, ``12h``)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "")
    if not found:
        raise ValueError("expected a duration such as 3600, 30m, 12h or 7d, not %r" % text)
    return float(found.group(1)) * _UNITS[found.group(2) or "s"]


def _when(seconds):
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + "Z"


def _table(rows, columns):
    """Print ``rows`` (dicts) as aligned columns."""
    cells = [[str(row[c]) if row[c] is not None else "-" for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def _show(rows, columns, as_json):
    if as_json:
        print(json.dumps(rows, indent=1))
    else:
        _table(rows, columns)


def _federation(conn, name):
    fed = store.federation_by_name(conn, name)
    if fed is None:
        raise OperatorError("no federation called %r (python -m fl federation list)" % name)
    return fed


def federation_create(svc, args):
    spec = dict(DEFAULT_SPEC, name=args.name,
                labels=[label.strip() for label in args.labels.split(",") if label.strip()],
                enrollment=args.enrollment)
    for key in ("dim", "encoder", "hidden_size", "mode"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    if args.privacy is not None:
        spec["privacy"] = json.loads(args.privacy) if args.privacy.startswith("{") \
            else args.privacy
    if len(spec["labels"]) < 2:
        raise OperatorError("a federation needs at least two labels (--labels a,b)")
    with svc.database.connect() as conn:
        if store.federation_by_name(conn, args.name) is not None:
            raise OperatorError("federation %r exists already" % args.name)
        try:
            fed = rounds.ensure_federation(conn, spec, svc.settings)
        except ValueError as exc:
            raise OperatorError(str(exc)) from None
    print("federation %s created: %d labels x %d, mode %s, enrollment %s, privacy %s" % (
        fed["name"], len(fed["labels"]), fed["dim"], fed["mode"], fed["enrollment"],
        _privacy_name(fed)))
    if fed["enrollment"] == "invite":
        print("members join with an invite: python -m fl invite create --federation %s"
              % fed["name"])


def _privacy_name(fed):
    """``none``, ``client``, or ``example`` with who adds the noise (``example/distributed``)."""
    settings = client_privacy.decode(fed["privacy"])
    if settings is None:
        return "none"
    if settings["mode"] == "example":
        return "example/" + client_privacy.noise_of(settings)
    return settings["mode"]


def federation_list(svc, args):
    with svc.database.connect() as conn:
        rows = []
        for fed in conn.execute(select(federations.c.name).order_by(federations.c.id)):
            found = store.federation_by_name(conn, fed.name)
            members = conn.execute(select(func.count()).select_from(clients).where(
                clients.c.federation_id == found["id"], clients.c.revoked_at.is_(None))).scalar()
            rows.append({"name": found["name"], "mode": found["mode"],
                         "enrollment": found["enrollment"],
                         "privacy": _privacy_name(found),
                         "labels": ",".join(found["labels"]), "dim": found["dim"],
                         "head_version": found["head_version"], "clients": int(members)})
    _show(rows, ["name", "mode", "enrollment", "privacy", "labels", "dim", "head_version",
                 "clients"], args.json)


def invite_create(svc, args):
    now = svc.settings.clock()
    expires = now + duration(args.expires) if args.expires else None
    uses = None if args.uses == 0 else args.uses
    with svc.database.connect() as conn:
        fed = _federation(conn, args.federation)
        invite_id, code = enrollment.create_invite(conn, fed["id"], now, max_uses=uses,
                                                   expires_at=expires, note=args.note)
    if args.json:
        print(json.dumps({"id": invite_id, "code": code, "federation": fed["name"],
                          "max_uses": uses, "expires_at": expires}))
        return
    print("invite %d for federation %s: %s" % (invite_id, fed["name"], code))
    print("uses: %s; expires: %s; the code is shown only now" % (
        "any number" if uses is None else uses, _when(expires) if expires else "never"))


def invite_list(svc, args):
    with svc.database.connect() as conn:
        rows = enrollment.list_invites(conn, _federation(conn, args.federation)["id"])
    if not args.json:
        for row in rows:
            for key in ("expires_at", "revoked_at", "created_at"):
                row[key] = _when(row[key])
    _show(rows, ["id", "uses", "max_uses", "expires_at", "revoked_at", "note", "created_at"],
          args.json)


def invite_revoke(svc, args):
    with svc.database.connect() as conn:
        if not enrollment.revoke_invite(conn, args.id, svc.settings.clock()):
            raise OperatorError("no invite %d" % args.id)
    print("invite %d revoked (clients it admitted stay; python -m fl clients revoke ...)"
          % args.id)


def clients_list(svc, args):
    with svc.database.connect() as conn:
        rows = enrollment.list_clients(conn, _federation(conn, args.federation)["id"])
    if not args.json:
        for row in rows:
            row["created_at"], row["revoked_at"] = (_when(row["created_at"]),
                                                    _when(row["revoked_at"]))
    _show(rows, ["id", "created_at", "invite_id", "revoked_at"], args.json)


def clients_revoke(svc, args):
    with svc.database.connect() as conn:
        outcome = enrollment.revoke_client(conn, args.id, svc.settings.clock())
    if outcome is None:
        raise OperatorError("no client %d" % args.id)
    print("client %d revoked; %d update%s of the live round discarded" % (
        args.id, outcome["discarded"], "" if outcome["discarded"] == 1 else "s"))


def rounds_list(svc, args):
    accepted = (select(func.count()).select_from(updates)
                .where(updates.c.round_id == rounds_table.c.id).scalar_subquery())
    refused = (select(func.count()).select_from(refusals)
               .where(refusals.c.round_id == rounds_table.c.id).scalar_subquery())
    with svc.database.connect() as conn:
        fed = _federation(conn, args.federation)
        rows = [row._asdict() for row in conn.execute(
            select(rounds_table.c.id, rounds_table.c.kind, rounds_table.c.status,
                   rounds_table.c.phase, rounds_table.c.base_version,
                   rounds_table.c.result_version, rounds_table.c.opened_at,
                   rounds_table.c.closed_at, rounds_table.c.cohort,
                   accepted.label("accepted"), refused.label("refused"),
                   rounds_table.c.detail)
            .where(rounds_table.c.federation_id == fed["id"])
            .order_by(rounds_table.c.id.desc()).limit(args.limit))][::-1]
    if not args.json:
        for row in rows:
            row["opened_at"], row["closed_at"] = _when(row["opened_at"]), _when(row["closed_at"])
    _show(rows, ["id", "kind", "status", "phase", "base_version", "result_version",
                 "opened_at", "closed_at", "cohort", "accepted", "refused", "detail"],
          args.json)


def safetensors_bytes(tensors, metadata):
    """A safetensors file of float32 ``tensors`` ({name: (shape, little-endian bytes)}) with
    string ``metadata``: a little-endian u64 header length, the JSON header (padded with
    spaces to 8 bytes), the data."""
    header, offset, data = {"__metadata__": metadata}, 0, []
    for name, (shape, raw) in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(data)


def head_export(svc, args):
    with svc.database.connect() as conn:
        fed = _federation(conn, args.federation)
        version = fed["head_version"] if args.version is None else args.version
        found = store.head(conn, fed["id"], version)
    if found is None:
        raise OperatorError("federation %s has no head version %d" % (fed["name"], version))
    weights, bias = found
    k, d = len(fed["labels"]), fed["dim"]
    data = safetensors_bytes(
        {"weight": ((k, d), weights.astype("<f4").tobytes()),
         "bias": ((k,), bias.astype("<f4").tobytes())},
        {"labels": json.dumps(fed["labels"]), "encoder_id": fed["encoder"],
         "hidden_size": str(fed["hidden_size"]), "federation": fed["name"],
         "head_version": str(version)})
    with open(args.out, "wb") as out:
        out.write(data)
    print("head version %d of federation %s (%d labels x %d) written to %s"
          % (version, fed["name"], k, d, args.out))


def ledger_show(svc, args):
    with svc.database.connect() as conn:
        fed = _federation(conn, args.federation)
        rows = ledger.releases(conn, fed["id"])
    settings = client_privacy.decode(fed["privacy"])
    multipliers = [row["noise_multiplier"] for row in rows]
    summary = client_privacy.describe(settings, multipliers, svc.settings.clip_bound,
                                      secure_rounds.cohort_target(svc.settings))
    if args.json:
        print(json.dumps({"federation": fed["name"], "privacy": summary, "releases": rows},
                         indent=1))
        return
    if settings is None:
        print("federation %s has no differential privacy" % fed["name"])
    else:
        print("federation %s (%s): epsilon %.4g spent of %.4g at delta %g over %d round%s; "
              "noise multiplier %.4g; %s" % (
                  fed["name"], _privacy_name(fed), summary["epsilon"],
                  summary["target_epsilon"], summary["delta"],
                  summary["rounds"], "" if summary["rounds"] == 1 else "s",
                  summary["noise_multiplier"],
                  "budget spent: rounds stop" if summary["exhausted"] else "rounds go on"))
    for row in rows:
        row["published_at"] = _when(row["published_at"])
    if rows:
        _table(rows, ["round_id", "mechanism", "noise_multiplier", "clip", "members",
                      "published_at"])


COMMANDS = {("federation", "create"): federation_create, ("federation", "list"): federation_list,
            ("invite", "create"): invite_create, ("invite", "list"): invite_list,
            ("invite", "revoke"): invite_revoke, ("clients", "list"): clients_list,
            ("clients", "revoke"): clients_revoke, ("rounds", "list"): rounds_list,
            ("head", "export"): head_export, ("ledger", "show"): ledger_show}

GROUPS = {group for group, _ in COMMANDS}


def add_parsers(sub):
    """Add the operator's commands to ``sub`` (argparse subparsers of ``python -m fl``)."""
    def group(name, help_text):
        return sub.add_parser(name, help=help_text).add_subparsers(dest="action", required=True)

    def command(parent, name, help_text, federation=False, as_json=False):
        found = parent.add_parser(name, help=help_text)
        if federation:
            found.add_argument("--federation", default="default")
        if as_json:
            found.add_argument("--json", action="store_true", help="print JSON")
        return found

    fed = group("federation", "create and list federations")
    create = command(fed, "create", "create a federation (invite-only unless --enrollment open)")
    create.add_argument("name")
    create.add_argument("--labels", required=True, help="comma-separated label names")
    create.add_argument("--dim", type=int)
    create.add_argument("--hidden-size", type=int, dest="hidden_size")
    create.add_argument("--encoder")
    create.add_argument("--mode", choices=rounds.MODES, help="default: FEDERATION_MODE")
    create.add_argument("--privacy", help="none, client, example, or JSON such as"
                        ' \'{"mode": "client", "target_epsilon": 4, "planned_rounds": 3}\'')
    create.add_argument("--enrollment", choices=enrollment.ENROLLMENTS, default="invite")
    command(fed, "list", "the federations", as_json=True)

    invite = group("invite", "invite codes of invite-only federations")
    create = command(invite, "create", "make an invite code (printed once)", federation=True,
                     as_json=True)
    create.add_argument("--uses", type=int, default=1,
                        help="registrations it allows (default 1; 0: any number)")
    create.add_argument("--expires", default="7d",
                        help="lifetime: seconds or 30m, 12h, 7d (default 7d; '' for never)")
    create.add_argument("--note", help="who it is for (kept with it)")
    command(invite, "list", "the federation's invites (never their codes)", federation=True,
            as_json=True)
    command(invite, "revoke", "refuse an invite from now on").add_argument("id", type=int)

    members = group("clients", "registered clients")
    command(members, "list", "the federation's clients", federation=True, as_json=True)
    command(members, "revoke", "refuse a client's token, discard its live update") \
        .add_argument("id", type=int)

    listed = command(group("rounds", "rounds"), "list", "the federation's latest rounds",
                     federation=True, as_json=True)
    listed.add_argument("--limit", type=int, default=20)

    export = command(group("head", "global heads"), "export",
                     "write a head as .safetensors (weight, bias; labels in its metadata)",
                     federation=True)
    export.add_argument("--version", type=int, help="default: the current head")
    export.add_argument("--out", required=True)

    command(group("ledger", "the privacy ledger"), "show",
            "epsilon spent and every noised release", federation=True, as_json=True)


def run(app, args):
    """Run the operator command ``args`` names; returns the exit status."""
    svc = app.extensions["fl"]
    svc.ensure_ready()
    try:
        COMMANDS[args.command, args.action](svc, args)
    except (OperatorError, ValueError) as exc:
        print("fl: %s" % exc, file=sys.stderr)
        return 2
    return 0
