"""What the chat front ends share, so that Telegram and Discord differ only where their libraries do.

`throttle` (one request per person per window), `admin` (the refusal of non-admins), `tokens` (where
tokens come from, the missing-token line), `help` (the command catalogue), `errors` (exception -> reply),
`audio` (audio people send: detection, names, the size cap), `formatting` (sizes, headings).
"""

from moodtape.bot.shared.admin import require_admin
from moodtape.bot.shared.audio import AUDIO_EXTENSIONS, guess_name, looks_like_audio, read_audio, too_big
from moodtape.bot.shared.errors import APOLOGY, Reply, user_message
from moodtape.bot.shared.formatting import SimilarHeading, similar_heading
from moodtape.bot.shared.help import COMMANDS, Command, description_of
from moodtape.bot.shared.throttle import Throttle, Verdict
from moodtape.bot.shared.tokens import DISCORD_PORTAL, bot_token, require_tokens

__all__ = [
    "APOLOGY", "AUDIO_EXTENSIONS", "COMMANDS", "DISCORD_PORTAL", "Command", "Reply", "SimilarHeading",
    "Throttle", "Verdict", "bot_token", "description_of", "guess_name", "looks_like_audio", "read_audio",
    "require_admin", "require_tokens", "similar_heading", "too_big", "user_message",
]
