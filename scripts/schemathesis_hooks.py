"""Teaches schemathesis two rules of Roster's that no JSON Schema keyword states, so
that its positive_data_acceptance check holds the server to what it promises:

- a new password must be hard to guess (zxcvbn score 2 or more), so the "password"
  format is drawn from fixed, strong passwords;
- an API key's expiry must be in the future, so the "date-time" format is drawn from
  times between 2030 and 2099 (the audit log's since/until accept any time).

Loaded by scripts/schemathesis.sh through SCHEMATHESIS_HOOKS.
"""

from datetime import datetime, timezone

import schemathesis
from hypothesis import strategies as st

STRONG_PASSWORDS = [
    "gbF487Ly5-99oDxx9Qkw8oWb",
    "f8njd9RBZoEOn6EbrYXnbHFt",
    "QVDtAPaF71myMAwABck6GiXj",
    "kgHXPVjjQPjNEKdrgSYdrx52",
    "abqaeoPEetT-blWqxRNLK5Jf",
    "G_Ek3wLvupUVl-xUg8WC59kU",
    "IWqsB7sqmJk-u84iSb8Ej8N9",
    "OKQEmHmV1YyZejpzwMNdlOTs",
    "Mz5-9rKir3VDX93e5Y9RgCvP",
    "VaU9oGlzpgVAtKWC2gCkqvGK",
    "BYeNtNkgFsVeqOdRezQZQp7c",
    "1p7Rif8jib-NCq6zGKqpOOcN",
]

schemathesis.openapi.format("password", st.sampled_from(STRONG_PASSWORDS))

schemathesis.openapi.format(
    "date-time",
    st.datetimes(
        min_value=datetime(2030, 1, 1),
        max_value=datetime(2099, 12, 31),
        timezones=st.just(timezone.utc),
    ).map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"),
)
