"""The hub page's routes, one module per area: login (sign in/out), pages (devices,
captures, one capture), export (evidence packs and frames), api (live alerts, JSON, health)."""
