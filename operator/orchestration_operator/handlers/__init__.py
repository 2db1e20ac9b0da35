"""The only kopf code: decorators, parsing, error translation, status patches."""
