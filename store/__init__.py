"""Storage shared by `web/` and `tasks/`: settings, models, sessions and the intake service."""
