"""CLI command modules; each has `register(subparsers)`."""

from moodtape.bot.commands import ann, catalogue, chat, continue_cmd, database, jobs, lab, query, run

COMMAND_MODULES = [chat, query, continue_cmd, catalogue, run, jobs, ann, database, lab]
