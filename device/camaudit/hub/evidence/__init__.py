"""Evidence: blurred frames devices send (inbox.py) and the hub-signed evidence packs (pack.py)."""
