"""CLI command modules; each has `register(subparsers)`."""

from moodtape.bot.commands import (
    ann,
    catalogue,
    chat,
    continue_cmd,
    database,
    export,
    forget,
    jobs,
    lab,
    query,
    room,
    run,
)

COMMAND_MODULES = [chat, room, query, continue_cmd, forget, export, catalogue, run, jobs, ann, database, lab]
