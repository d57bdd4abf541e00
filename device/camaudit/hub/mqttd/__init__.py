"""A lean asyncio MQTT 3.1.1 broker for the hub (hub/broker.py runs it).

codec: packet encoding/decoding (pure); topics: filters, matching, subscription index;
session: per-client state and queues; auth: the password file; connection: one client's
asyncio.Protocol; server: the Broker (listening, routing, retained messages, keepalive).
"""

from camaudit.hub.mqttd.server import Broker

__all__ = ["Broker"]
