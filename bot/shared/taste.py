"""What /forget says, the same on Telegram, Discord and the CLI: how many votes it deleted, or that there were none."""

from __future__ import annotations

__all__ = ["FORGET_HELP", "forget_text"]

#: One line for /help: votes now shape a person's answers, and how to undo that.
FORGET_HELP = ("Your 👎 steers your later answers away from songs that sound like it (and its artist), your 👍 "
               "toward similar ones; older votes count less. /forget clears them.")


def forget_text(liked: int, disliked: int) -> str:
    """The reply to /forget: what was cleared (so a person sees it did something), or that nothing was."""
    if liked == 0 and disliked == 0:
        return "You have no 👍/👎 with me, so there was nothing to forget. Your answers are everyone's defaults."
    parts = [f"{disliked} 👎" if disliked else "", f"{liked} 👍" if liked else ""]
    done = " and ".join(p for p in parts if p)
    return (f"Forgotten: {done}. Your answers no longer lean on them (they also leave the next refresh of the "
            f"playlist model).")
