"""The `camaudit hub` commands (cli.py) and a shared-store worker process (worker.py)."""
