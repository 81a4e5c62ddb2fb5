"""Runs the scim2-tester compliance checks against a Roster SCIM endpoint.

Usage: python scripts/scim_compliance.py BASE_URL API_KEY
(BASE_URL such as http://127.0.0.1:8080/scim/v2). Prints one line per check and a
closing "N passed, N failed" line; exits non-zero when a check fails.
"""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base_url, api_key = sys.argv[1], sys.argv[2]
    http = httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"})
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)
    passed = failed = skipped = 0
    for result in results:
        if result.status in (Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE):
            passed += 1
        elif result.status == Status.SKIPPED:
            skipped += 1
        else:
            failed += 1
        name = result.status.name
        print(f"{name:10} {result.resource_type or '-':6} {result.title}: {result.reason or ''}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
