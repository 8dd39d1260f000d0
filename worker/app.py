"""`celery -A worker.app worker -Q grading,lms` entry point: build the app, hand it over.

The only module under `worker/` that imports `tasks/`: an entry-point shim at the top of the graph.
"""

from tasks.celery_app import make_celery

celery = make_celery()
app = celery
