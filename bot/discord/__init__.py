"""The Discord front end: `app` is the bot (intents, login, serving), `commands` the slash commands and
the mood listener, `buttons` the 👍/👎 buttons, `replies` answering and errors, `render` the embeds."""

from moodtape.bot.discord.app import MoodtapeBot, build_bot, check_discord, intents, run_discord

__all__ = ["MoodtapeBot", "build_bot", "check_discord", "intents", "run_discord"]
