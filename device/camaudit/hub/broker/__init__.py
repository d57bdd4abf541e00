"""The managed mosquitto: supervisor, config, ACL and password files the hub generates for it."""
