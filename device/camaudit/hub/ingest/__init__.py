"""Ingest: a device's message from the socket to the ack, one module per step.

receiver (socket, child process) -> collector (queue, batches: the orchestration) ->
verify + schema (the message's checks) -> linking (chain heads: memory or shared) ->
forks (a second signed history) -> witness (checkpoints countersigned) -> acks and
replay requests back to the device. Read ingest/collector.py top to bottom."""
