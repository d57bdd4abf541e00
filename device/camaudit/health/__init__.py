"""How the running daemon is doing: systemd notifications, the watchdog, the status file."""
