"""The Celery app and the model runtime. Nothing here imports torch at module level."""
