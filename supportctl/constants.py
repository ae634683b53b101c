"""The environment variables supportctl reads, named once.

Each one is shown in the `--help` of the commands it affects (the root options, `notify
send`, the read commands a replica may serve, `db status`), and listed in the README.
"""

from __future__ import annotations


class EnvVars:
    DATABASE_URL = "SUPPORTCTL_DATABASE_URL"  # --database-url
    READ_DATABASE_URL = "SUPPORTCTL_READ_DATABASE_URL"  # a replica for the read commands
    ACTOR = "SUPPORTCTL_ACTOR"  # --actor
    NOW = "SUPPORTCTL_NOW"  # --now
    ME = "SUPPORTCTL_ME"  # the agent `--assignee me` and `--to me` name
    DATA_DIR = "SUPPORTCTL_DATA_DIR"  # where the embedded server keeps its data
    SMTP_URL = "SUPPORTCTL_SMTP_URL"  # notify send by SMTP
    SMTP_FROM = "SUPPORTCTL_SMTP_FROM"
    WEBHOOK_URL = "SUPPORTCTL_WEBHOOK_URL"  # notify send by webhook
    WEBHOOK_SECRET = "SUPPORTCTL_WEBHOOK_SECRET"
