"""Usage: a ledger row per gateway call, daily rollups, and the quotas that bound them."""
