"""`moodtape bench bots`: a load test of the Telegram bot: N people chatting at once for S seconds.

The issue's bar is about what people and Discord's gateway notice: replies stay quick (p99) while many
people chat, and the bot's event loop never stalls long enough (p99 lag <= 100 ms) for a Discord heartbeat
to be late.  So the real application is measured, exactly as `moodtape run telegram` builds it (PTB client,
handlers, rate limiter, bounded concurrent updates, the engine with the shipped emotion models), against the
fake Bot API server of the test suite on 127.0.0.1, on a temporary database answering from the bundled demo
catalogue.

The fake server and the simulated people run in their own thread with their own event loop, so the loop lag
sampled in the bot's loop (a task sleeping 10 ms and measuring its oversleep) is the bot's own.  A reply's
latency runs from the update being queued for `getUpdates` to the bot's `sendMessage` reaching the server,
both stamped on the server's clock.  Each simulated person waits for the answer, thinks a few seconds, and
sends the next message (English or Korean moods, `/mood`, `/similar <id or title>`).

The per-person throttle (`user_cooldown_s`) is switched off, or it would be what is measured; the rate
limiter stays as in production (Telegram's 30 messages/s per bot), and the JSON says both.  The fake server
lives in the source checkout's `tests/fakes` (test code is not installed), so this command needs the
checkout (an editable install); without it it says so in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Self, TypeVar

from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.training.bench_stats import loop_lag_sampled, percentile
from moodtape.training.cli_output import positive_int

T = TypeVar("T")

#: The checkout this module was loaded from (the editable install maps `moodtape` to the repository root).
REPO_ROOT = Path(__file__).resolve().parents[1]
FAKE_SERVER = "tests.fakes.telegram_server"
#: First ids of the simulated people (private chats: chat id == user id).
FIRST_USER_ID = 500_000

ENGLISH = [
    "i failed my exam", "what a wonderful morning", "honestly i am so angry", "my dog is sick",
    "we won the game!", "i can't sleep again", "feeling kind of meh", "she finally called back 😊",
    "it is raining and i miss home", "the concert tonight was unreal", "why does this always happen to me",
    "tired but hopeful", "need something to calm down", "so nervous about tomorrow", "😭😭",
]
KOREAN = [
    "오늘 시험을 망쳤어", "너무 슬퍼요", "정말 행복한 하루였어", "진짜 화가 나", "무서워서 잠이 안 와",
    "고마워요", "깜짝 놀랐어", "그냥 그래", "비가 와서 집이 그리워", "신나는 노래 듣고 싶어",
]
#: What a simulated person sends, with its weight.
MIX = {"mood_en": 45, "mood_ko": 25, "mood_command": 10, "similar": 20}


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    bots = bench.add_parser(
        "bots", help="load test of the Telegram bot: N simulated people for S seconds (fake Bot API server)",
        description="Runs the real Telegram bot against the test suite's fake Bot API server (needs the "
                    "source checkout) on a temporary database with the demo catalogue; reports reply latency "
                    "p50/p99, the bot's event-loop lag and errors. The per-person throttle is off.",
    )
    bots.add_argument("--users", type=positive_int, default=100, help="simulated people chatting at once")
    bots.add_argument("--seconds", type=_positive_float, default=60.0, help="how long they keep sending")
    bots.add_argument("--think", type=_think, default=(5.0, 15.0), metavar="MIN,MAX",
                      help="seconds a person waits after a reply before the next message (default 5,15)")
    bots.add_argument("--reply-timeout", type=_positive_float, default=15.0,
                      help="a message still unanswered after this many seconds counts as an error")
    bots.add_argument("--seed", type=int, default=0)
    bots.add_argument("--slow-callbacks", type=_positive_float, default=None, metavar="MS",
                      help="asyncio debug mode: list the bot loop's callbacks that ran longer than MS "
                           "(slows everything down; to find what blocks the loop, not for the figures)")
    bots.add_argument("--json", action="store_true")
    bots.set_defaults(handler=_bench_bots)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _think(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("wants MIN,MAX seconds, e.g. 5,15") from None
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError("wants 0 <= MIN <= MAX")
    return low, high


async def _bench_bots(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.cli_output import emit

    result = await bench_bots(settings, users=args.users, seconds=args.seconds, think=args.think,
                              reply_timeout=args.reply_timeout, seed=args.seed, slow_callback_ms=args.slow_callbacks)
    return emit(result, args.json)


def fake_server_module(root: Path) -> ModuleType:
    """`tests.fakes.telegram_server` of the checkout at `root`, or a one-line `UserError` saying what is missing."""
    path = root / "tests" / "fakes" / "telegram_server.py"
    if not path.is_file():
        raise UserError(f"moodtape bench bots needs the source checkout's tests/fakes/telegram_server.py, which is "
                        f"not under {root}; run it from a git checkout installed with `pip install -e .`")
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(FAKE_SERVER)
    except ImportError as exc:
        raise UserError(f"cannot load the fake Telegram server from {path}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(str(root))
    if Path(module.__file__ or "").resolve() != path.resolve():
        raise UserError(f"`{FAKE_SERVER}` resolves to {module.__file__}, not to the checkout's {path}")
    return module


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p99 and max, rounded to 0.1 (the keys this bench's JSON has always had); zeros for no samples."""
    ordered = sorted(samples)
    return {"p50": round(percentile(ordered, 0.50), 1), "p99": round(percentile(ordered, 0.99), 1),
            "max": round(ordered[-1], 1) if ordered else 0.0}


@dataclass
class Tally:
    """What the simulated people saw (filled in the server's thread, read once it is done)."""

    sent: Counter[str] = field(default_factory=Counter)
    reply_ms: dict[str, list[float]] = field(default_factory=dict)
    no_reply: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # replies that are an apology or a "slow down"
    refused_messages: list[str] = field(default_factory=list)  # what the first few of them answered
    refused: Counter[str] = field(default_factory=Counter)  # "method status" of the bot's non-2xx calls
    unexpected: int = 0  # bot messages nobody was waiting for


class _ServerThread:
    """An event loop in a thread of its own, for the fake server and the simulated people."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-telegram", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))


def _queries() -> list[str]:
    """`/similar` arguments: demo track ids and the titles that name one demo track."""
    from moodtape.core import demo

    tracks = demo.demo_data()["tracks"]
    titles = Counter(t["title"].casefold() for t in tracks)
    ids = [str(demo.DEMO_ID_BASE + number) for number in range(1, len(tracks) + 1)]
    unique = [t["title"] for t in tracks if titles[t["title"].casefold()] == 1 and len(t["title"]) > 3]
    return ids + unique


def _message(rng: random.Random, queries: list[str]) -> tuple[str, str]:
    kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    if kind == "similar":
        return kind, f"/similar {rng.choice(queries)}"
    phrases = KOREAN if kind == "mood_ko" else ENGLISH
    text = " ".join(rng.choice(phrases) for _ in range(rng.randint(1, 3)))
    return kind, f"/mood {text}" if kind == "mood_command" else text


async def _drive(server: Any, users: int, seconds: float, think: tuple[float, float], reply_timeout: float,
                 seed: int, refusals: dict[str, str]) -> Tally:
    """Run in the server's loop: `users` people each send, wait for the answer, think, until `seconds` pass."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    waiting: dict[int, asyncio.Future[Any]] = {}
    queries = _queries()

    def on_call(call: Any) -> None:
        if call.status >= 300:
            tally.refused[f"{call.method} {call.status}"] += 1
        if call.method != "sendMessage" or call.status != 200:
            return
        waiter = waiting.pop(call.params.get("chat_id"), None)
        if waiter is None or waiter.done():
            tally.unexpected += 1
        else:
            waiter.set_result(call)

    server.listeners.append(on_call)
    deadline = loop.time() + seconds

    async def person(index: int) -> None:
        rng = random.Random(seed * 1_000_003 + index)
        user = server.user(FIRST_USER_ID + index, f"Person{index}")
        await asyncio.sleep(rng.uniform(0, min(think[1], seconds)))  # people do not all start at once
        while loop.time() < deadline:
            kind, text = _message(rng, queries)
            waiter: asyncio.Future[Any] = loop.create_future()
            waiting[user["id"]] = waiter
            sent_at = time.monotonic()
            server.send_text(user, text)
            tally.sent[kind] += 1
            try:
                call = await asyncio.wait_for(waiter, reply_timeout)
            except TimeoutError:
                waiting.pop(user["id"], None)
                tally.no_reply += 1
                continue
            tally.reply_ms.setdefault(kind, []).append((call.at - sent_at) * 1000)
            for name, marker in refusals.items():
                if marker in str(call.params.get("text", "")):
                    tally.refusals[name] += 1
                    if len(tally.refused_messages) < 5:
                        tally.refused_messages.append(text)
            await asyncio.sleep(min(rng.uniform(*think), max(0.0, deadline - loop.time())))

    try:
        await asyncio.gather(*(person(i) for i in range(users)))
    finally:
        server.listeners.remove(on_call)
    return tally


class _SlowCallbacks(logging.Handler):
    """Collects asyncio debug mode's "Executing <callback> took N seconds" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[tuple[float, str]] = []
        self.active = False  # only while the simulated people chat (not the set-up and warm-up)

    def emit(self, record: logging.LogRecord) -> None:
        if self.active and isinstance(record.msg, str) and record.msg.startswith("Executing") and len(record.args or ()) >= 2:
            what, took = record.args[0], record.args[1]  # type: ignore[index]
            self.seen.append((float(took) * 1000, str(what)[:300]))


async def bench_bots(settings: Settings, *, users: int, seconds: float, think: tuple[float, float] = (5.0, 15.0),
                     reply_timeout: float = 15.0, seed: int = 0, slow_callback_ms: float | None = None,
                     root: Path | None = None) -> dict[str, Any]:
    """Run the load test; the figures as a JSON-able dict (see the module docstring)."""
    fakes = fake_server_module(root or REPO_ROOT)
    from moodtape.bot.shared.errors import APOLOGY
    from moodtape.bot.telegram import app as telegram_app
    from moodtape.bot.telegram.render import SLOW_DOWN
    from moodtape.core.engine import Engine
    from pydantic import SecretStr
    from telegram.ext import ContextTypes

    refusals = {"apology": APOLOGY.split(".")[0], "slow_down": SLOW_DOWN}
    loop = asyncio.get_running_loop()
    slow = _SlowCallbacks()
    if slow_callback_ms is not None:
        loop.set_debug(True)
        loop.slow_callback_duration = slow_callback_ms / 1000
        logging.getLogger("asyncio").addHandler(slow)
    load_before = os.getloadavg()
    handler_errors: Counter[str] = Counter()
    lag_ms: list[float] = []

    async def count_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        handler_errors[type(context.error).__name__] += 1

    try:
        with _ServerThread() as thread, tempfile.TemporaryDirectory(prefix="moodtape-bench-bots-") as folder:
            server = await thread.run(fakes.FakeTelegram().start())
            try:
                bench_settings = settings.model_copy(update={
                    "data_dir": Path(folder), "db": Path(folder) / "moodtape.db", "demo": "always",
                    "telegram_token": SecretStr(server.token), "telegram_api_url": server.root,
                    "telegram_webhook_url": None, "user_cooldown_s": 0.0,
                })
                engine = await Engine.open(bench_settings)
                try:
                    started = time.perf_counter()  # models and the demo catalogue load before the clock starts
                    await engine.chat("warming up", strategy="match")
                    await engine.chat("준비 운동 중이에요", strategy="match")
                    await engine.similar(_queries()[0])
                    warmup_s = time.perf_counter() - started
                    application = telegram_app.build_application(engine, bench_settings)
                    application.add_error_handler(count_error)
                    async with telegram_app.serving(application, poll_timeout_s=2.0), loop_lag_sampled(lag_ms):
                        started = time.perf_counter()
                        slow.active = True
                        try:
                            tally = await thread.run(_drive(server, users, seconds, think, reply_timeout, seed,
                                                            refusals))
                        finally:
                            slow.active = False
                        elapsed = time.perf_counter() - started
                finally:
                    await engine.close()
            finally:
                await thread.run(server.close())
    finally:
        if slow_callback_ms is not None:
            logging.getLogger("asyncio").removeHandler(slow)
            loop.set_debug(False)
    return _report(tally, handler_errors, lag_ms, users=users, seconds=seconds, think=think, elapsed=elapsed,
                   warmup_s=warmup_s, load=(load_before, os.getloadavg()), slow=slow.seen, debug=slow_callback_ms)


def _report(tally: Tally, handler_errors: Counter[str], lag_ms: list[float], *, users: int, seconds: float,
            think: tuple[float, float], elapsed: float, warmup_s: float,
            load: tuple[tuple[float, ...], tuple[float, ...]], slow: list[tuple[float, str]],
            debug: float | None) -> dict[str, Any]:
    from moodtape.bot.telegram.app import CONCURRENT_UPDATES

    every = [ms for values in tally.reply_ms.values() for ms in values]
    refused = sum(tally.refused.values())
    errors = (sum(handler_errors.values()) + refused + sum(tally.refusals.values()) + tally.no_reply
              + tally.unexpected)
    result: dict[str, Any] = {
        "users": users, "seconds": seconds, "think_s": list(think),
        "sent": sum(tally.sent.values()), "replies": len(every), "errors": errors,
        "reply_ms": percentiles(every),
        "loop_lag_ms": {**percentiles(lag_ms), "samples": len(lag_ms)},
        "reply_ms_by_kind": {kind: {**percentiles(v), "n": len(v)} for kind, v in sorted(tally.reply_ms.items())},
        "error_details": {"error_handler": dict(handler_errors), "non_2xx": dict(tally.refused),
                          "refusals": dict(tally.refusals), "refused_messages": tally.refused_messages,
                          "no_reply": tally.no_reply,
                          "unexpected_messages": tally.unexpected},
        "replies_per_s": round(len(every) / elapsed, 2) if elapsed else 0.0,
        "elapsed_s": round(elapsed, 1), "warmup_s": round(warmup_s, 1),
        "throttle": "off: user_cooldown_s=0 (the per-person cooldown would refuse simulated people)",
        "rate_limiter": "as in production: PTB AIORateLimiter, 30 requests/s per bot (sendMessage and "
                        "sendChatAction both count)",
        "concurrent_updates": CONCURRENT_UPDATES,
        "catalogue": "bundled demo catalogue on a temporary database",
        "machine": {"cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in load[0]],
                    "load_avg_after": [round(x, 2) for x in load[1]]},
    }
    if debug is not None:
        worst = sorted(slow, reverse=True)
        result["slow_callbacks"] = {"over_ms": debug, "count": len(slow),
                                    "worst": [{"ms": round(ms, 1), "callback": what} for ms, what in worst[:8]]}
        result["note"] = "asyncio debug mode was on: the timings are slower than a normal run"
    return result
