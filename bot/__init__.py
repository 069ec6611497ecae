"""The front ends: the Telegram bot, the Discord bot, the console chat and the `moodtape` CLI.

Each is a thin adapter over `bot.shared` (throttling, admin and token checks, the command catalogue and
help copy, error -> reply, audio input, formatting): it parses input, calls `moodtape.core.engine.Engine`
and renders what comes back.
"""
