"""`celery -A worker.app worker -Q grading,lms` entry point: build the app, hand it over."""
from worker.celery_app import make_celery

celery = make_celery()
app = celery
