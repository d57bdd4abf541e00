"""Constants shared by the report tests (a uniquely named module: every test folder has its
own conftest)."""

VENUE = "Example Café, 1 Main St, Paris"
