"""The Orchestration API client (httpx + pydantic). No kopf."""
