"""The Telegram front end: `app` builds and runs the application, `handlers` answer updates, `messages`
reads what a message asks and answers it, `render` turns engine results into HTML and keyboards."""

from moodtape.bot.telegram.app import (
    build_application,
    check_telegram,
    serving,
    start_telegram,
    stop_telegram,
)

__all__ = ["build_application", "check_telegram", "serving", "start_telegram", "stop_telegram"]
