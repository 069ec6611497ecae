"""CLI command modules; each has `register(subparsers)`."""

from bot.commands import catalogue, chat, lab, query

COMMAND_MODULES = [chat, query, catalogue, lab]
