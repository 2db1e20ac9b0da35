"""Custom resource models (pydantic) and condition constants. No kopf, no httpx."""
