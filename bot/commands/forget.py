"""`moodtape forget --user REF`: delete one person's 👍/👎, as `/forget` does in the bots; and the `--user REF`
option of `chat`, `similar` and `continue`, which answers as that person's taste would have it.

A person is named as the bots name them: `tg:<Telegram user id>` or `dc:<Discord user id>`, so an operator can
see what someone is being recommended, or honour a request to forget them, from the command line.
"""

from __future__ import annotations

import argparse

from moodtape.bot.commands.common import engine_for, print_json
from moodtape.bot.shared.taste import forget_text
from moodtape.core.config import Settings
from moodtape.core.errors import UserError

__all__ = ["USER_HELP", "add_user_option", "register", "run"]

USER_HELP = ("answer as this person's 👍/👎 shape it (tg:<Telegram user id>, dc:<Discord user id>); "
             "default: nobody's")
#: Longer refs are typos (a pasted message?), not people.
MAX_REF_CHARS = 200


def add_user_option(parser: argparse.ArgumentParser) -> None:
    """`--user REF` on a command that recommends songs."""
    parser.add_argument("--user", default=None, metavar="REF", type=_ref, help=USER_HELP)


def _ref(value: str) -> str:
    ref = value.strip()
    if not ref or len(ref) > MAX_REF_CHARS or not ref.isprintable():
        raise argparse.ArgumentTypeError("a person's ref, e.g. tg:12345 or dc:67890")
    return ref


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "forget", help="delete a person's 👍/👎 (what their answers lean on), as /forget does",
        description="Deletes every 👍/👎 of one person, in the database and in the demo catalogue, and says how "
                    "many. Their answers are then nobody's in particular, and the next collaborative refresh no "
                    "longer uses the votes.",
    )
    parser.add_argument("--user", required=True, metavar="REF", type=_ref,
                        help="the person: tg:<Telegram user id> or dc:<Discord user id>")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.user:
        raise UserError("--user names the person to forget, e.g. tg:12345")
    async with engine_for(settings) as engine:
        liked, disliked = await engine.forget(args.user)
    if args.json:
        print_json({"user": args.user, "liked": liked, "disliked": disliked})
    else:
        print(forget_text(liked, disliked))
    return 0
