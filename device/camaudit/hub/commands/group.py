"""`camaudit hub` with every subcommand registered: the group and its commands
(commands/cli.py) and the commands that live in other rooms (custody's `audit-log`). The
top-level CLI loads the group from here, so no room has to import back into commands/cli.py."""

from camaudit.hub.commands.cli import hub_cmd
from camaudit.hub.custody import command as _custody_command  # noqa: F401  (registers `hub audit-log`)

__all__ = ["hub_cmd"]
