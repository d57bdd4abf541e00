"""The hub: collects, verifies, stores and shows what devices send. One room per job:

- ingest/    a message from the socket to the ack (collector.py orchestrates, top to bottom):
             inbox (socket, queue; receiver.py is the child process) -> control (status,
             key, evidence frames) -> verify + schema (the checks) -> linking (one Protocol,
             linking.py: link_memory for the single hub, link_shared over linkstore /
             link_txn for workers on one store) -> forks, witness (checkpoints
             countersigned) -> acks, replay (requests for gaps)
- store/     HubStore (hub_store.py) split by concern: base (connection), schema
             (migrations), writer, forks, queries, records; sql.py is the SQLite /
             PostgreSQL port
- broker/    the managed mosquitto: mosquitto.py supervises it, files.py writes its users,
             passwords, ACL and workers
- evidence/  blurred frames devices send (inbox.py) and hub-signed evidence packs (pack.py)
- web/       the page: app.py assembles, routes/ (login, pages, export, api), site.py (what
             routes share), security.py, views.py, charts.py, live.py, templates/, static/
- commands/  `camaudit hub ...` (cli.py) and a shared-store worker process (worker.py)
- run.py     start_hub: wires broker, store, collector, evidence and web into one process
"""
