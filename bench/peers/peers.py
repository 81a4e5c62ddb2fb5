"""Helpers of bench/peers/run, standard library only.

    peers.py seed URL TOKEN USERS DIR   create USERS users through SCIM POST /Users at
                                        URL (the SCIM base, e.g. http://h:p/scim/v2),
                                        8 at a time; write their ids to DIR/ids.txt and
                                        their userNames to DIR/names.txt
    peers.py field NAME                 print the field NAME of the JSON object on stdin
    peers.py table DIR                  print the Markdown tables of a run's results
"""

import http.client
import json
import pathlib
import statistics
import sys
import threading
import time
import urllib.parse

SEED_CLIENTS = 8

# The order of the rows, with what each measures. "plain" workloads have no SCIM base.
WORKLOADS = [
    ("create", "create user (POST /Users)"),
    ("get", "get user by id"),
    ("filter", 'filter userName eq "…"'),
    ("list", "list page of 100 (startIndex=N&count=100)"),
    ("discovery", "GET /ServiceProviderConfig"),
    ("healthz", "/healthz of the same server"),
]

TARGETS = [
    ("roster-sqlite", "Roster, SQLite file"),
    ("roster-postgres", "Roster, PostgreSQL"),
    ("scim2-server", "scim2-server"),
]

ROSTERS = ["roster-sqlite", "roster-postgres"]
PEER = "scim2-server"


def user_body(user_name: str, family_name: str) -> bytes:
    return json.dumps(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "name": {"givenName": "Seeded", "familyName": family_name},
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            "active": True,
        }
    ).encode()


def seed(url: str, token: str, users: int, folder: str) -> None:
    parsed = urllib.parse.urlsplit(url)
    ids: list[str | None] = [None] * users
    failures: list[str] = []
    next_index = iter(range(users))
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
        }
        while not failures:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            body = user_body(f"s{index:07d}@peers.example", f"User {index}")
            connection.request("POST", f"{parsed.path}/Users", body, headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 201:
                failures.append(f"user {index}: {response.status} {answer[:300]!r}")
                break
            ids[index] = json.loads(answer)["id"]
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(SEED_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"seeding failed: {failures[0]}")
    seconds = time.monotonic() - started

    out = pathlib.Path(folder)
    (out / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (out / "names.txt").write_text(
        "".join(f"s{i:07d}@peers.example\n" for i in range(users))
    )
    (out / "seed.json").write_text(json.dumps({"users": users, "seconds": seconds}))
    print(f"seeded {users} users in {seconds:.1f} s ({users / seconds:,.0f}/s)")


def wrk_summary(path: pathlib.Path) -> dict | None:
    """The summary line common.lua's done() printed into one wrk output."""
    for line in path.read_text().splitlines():
        if line.startswith("PEERS_RESULT "):
            result = json.loads(line.removeprefix("PEERS_RESULT "))
            result["errors"] = sum(
                result[k]
                for k in (
                    "status_errors",
                    "connect_errors",
                    "read_errors",
                    "write_errors",
                    "timeouts",
                )
            )
            result["rate"] = result["requests"] / result["seconds"]
            return result
    return None


def wrk_result(folder: pathlib.Path, workload: str) -> dict | None:
    """A workload's rounds in one: the median rate, and every round's failures."""
    paths = sorted(folder.glob(f"{workload}.*.wrk"))
    if not paths:
        return None
    rounds = [wrk_summary(p) for p in paths]
    if any(r is None for r in rounds):
        return {"broken": True}
    result = {
        k: sum(r[k] for r in rounds)
        for k in (
            "requests",
            "errors",
            "status_errors",
            "connect_errors",
            "read_errors",
            "write_errors",
            "timeouts",
        )
    }
    result["rate"] = statistics.median(r["rate"] for r in rounds)
    return result


def rate(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}/s"
    return f"{value:.1f}/s"


def ratio(a: float, b: float) -> str:
    r = a / b
    return f"{r:,.0f}×" if r >= 100 else f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def rss(folder: pathlib.Path) -> dict[str, int]:
    path = folder / "rss"
    if not path.exists():
        return {}
    return {
        k: int(v)
        for k, v in (line.split() for line in path.read_text().splitlines() if line)
    }


def table(folder: str) -> None:
    run = pathlib.Path(folder)
    present = [(t, label) for t, label in TARGETS if (run / t).is_dir()]
    results = {
        t: {w: wrk_result(run / t, w) for w, _ in WORKLOADS} for t, _ in present
    }
    flagged: list[str] = []

    def cell(target: str, workload: str) -> str:
        result = results[target][workload]
        if result is None:
            return ""
        if result.get("broken"):
            flagged.append(f"{target}, {workload}: wrk printed no summary in a round (see {target}/{workload}.*.wrk)")
            return "**no result**"
        if result["errors"]:
            flagged.append(
                f"{target}, {workload}: {result['errors']:,} of {result['requests']:,} requests "
                f"failed (status ≥ 400: {result['status_errors']}, connect {result['connect_errors']}, "
                f"read {result['read_errors']}, write {result['write_errors']}, "
                f"timeouts {result['timeouts']}); see {target}/{workload}.*.wrk"
            )
            return f"**failed: {result['errors']:,} errors**"
        return rate(result["rate"])

    def good(target: str, workload: str) -> float | None:
        result = results.get(target, {}).get(workload)
        if not result or result.get("broken") or result["errors"]:
            return None
        return result["rate"]

    header = ["workload (SCIM face)"] + [label for _, label in present]
    rosters = [t for t, _ in present if t in ROSTERS]
    if PEER in results:
        header += [f"{dict(TARGETS)[t].removeprefix('Roster, ')} ÷ scim2-server" for t in rosters]
    header += [f"{dict(TARGETS)[t].removeprefix('Roster, ')} ÷ its /healthz" for t in rosters]

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for workload, label in WORKLOADS:
        if all(results[t][workload] is None for t, _ in present):
            continue
        row = [label] + [cell(t, workload) for t, _ in present]
        if PEER in results:
            for t in rosters:
                a, b = good(t, workload), good(PEER, workload)
                row.append(ratio(a, b) if a and b else "")
        for t in rosters:
            a, b = good(t, workload), good(t, "healthz")
            row.append(f"{a / b:.1%}" if a and b and workload != "healthz" else "")
        lines.append("| " + " | ".join(row) + " |")

    memory = ["resident memory: idle → seeded → after the reads → after the creates"]
    for t, _ in present:
        m = rss(run / t)
        memory.append(
            " → ".join(f"{m[k] / 1024:.0f}" for k in ("idle", "seeded", "reads", "creates") if k in m)
            + " MiB"
            if m
            else ""
        )
    memory += [""] * (len(header) - len(memory))
    lines.append("| " + " | ".join(memory) + " |")

    seeds = []
    for t, label in present:
        path = run / t / "seed.json"
        if path.exists():
            s = json.loads(path.read_text())
            seeds.append(f"{label} {s['users']:,} in {s['seconds']:.1f} s")
    print("\n".join(lines))
    if seeds:
        print(f"\nSeeding through POST /Users, {SEED_CLIENTS} clients: " + "; ".join(seeds) + ".")
    if flagged:
        print("\nFailed workloads (their figures are not throughput):")
        for f in flagged:
            print(f"- {f}")


def main() -> None:
    command, *args = sys.argv[1:] or ["help"]
    if command == "seed" and len(args) == 4:
        seed(args[0], args[1], int(args[2]), args[3])
    elif command == "field" and len(args) == 1:
        print(json.load(sys.stdin)[args[0]])
    elif command == "table" and len(args) == 1:
        table(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
