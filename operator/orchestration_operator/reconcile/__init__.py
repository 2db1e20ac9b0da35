"""Domain logic per kind: plain async functions over models, a client and a clock. No kopf."""
