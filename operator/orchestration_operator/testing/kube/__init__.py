"""An in-process Kubernetes API server for tests and local trials only; production is a real cluster."""
