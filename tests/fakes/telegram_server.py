"""A small fake Telegram Bot API server on 127.0.0.1 for end-to-end tests of the real PTB client.

It speaks the Bot API's wire protocol (`POST /bot<token>/<method>`, form-encoded or multipart parameters whose
non-string values are JSON, `{"ok": ..., "result": ...}` answers, `GET /file/bot<token>/<path>` downloads)
and keeps the state a person would see: the messages in each chat as they look after edits, the buttons on
them, the command menu.  Tests act as people (`send_text`, `send_audio`, `click`) and assert on what came
back.

It is strict where Telegram is strict and a lenient fake would hide bugs: HTML that Telegram cannot parse,
texts over 4096 characters, callback data over 64 bytes, edits that change nothing, buttons that are not on
the message, unknown methods and wrong tokens are all refused the way Telegram refuses them.

Updates reach the bot by long polling (`getUpdates`) or, once the bot called `setWebhook`, the way Telegram
delivers them to a webhook: a POST of the update's JSON with the `X-Telegram-Bot-Api-Secret-Token` header,
retried if the bot does not answer 200 (and `getUpdates` is then refused with 409, as Telegram does).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, TypeVar

from aiohttp import ClientSession, web

T = TypeVar("T")

#: Parameters whose value is sent as a plain string (everything else is JSON-encoded by clients).
STRING_PARAMS = {
    "text", "caption", "callback_query_id", "file_id", "action", "parse_mode", "url", "secret_token",
    "language_code", "inline_message_id", "description", "short_description", "name",
}
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
             "pre", "blockquote", "tg-emoji"}
HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                "upload_document", "choose_sticker", "find_location", "record_video_note",
                "upload_video_note"}
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
MENTION_RE = re.compile(r"@[A-Za-z0-9_]{5,32}")


class ApiError(Exception):
    """An error answer: HTTP status, description, optional `parameters` (e.g. retry_after)."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


@dataclass
class ApiCall:
    """One request the client made, and how we answered it."""

    method: str
    params: dict[str, Any]
    status: int = 200
    uploads: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


def utf16_len(text: str) -> int:
    """Telegram measures offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class _TelegramHTML(HTMLParser):
    """Parses text the way Telegram's HTML parse mode does, or says why Telegram would refuse it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.out: list[str] = []
        self.error: str | None = None

    def _fail(self, why: str) -> None:
        self.error = self.error or why

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self._fail(f'Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self._fail(f'Can\'t find end tag corresponding to start tag "{tag}"')
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or "&" in data:
            self._fail("Unsupported start tag or unescaped '<'/'&'")
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in HTML_ENTITIES:
            self._fail(f'Unsupported HTML entity "&{name};"')
        self.out.append(HTML_ENTITIES.get(name, ""))

    def handle_charref(self, name: str) -> None:
        self.out.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))


def visible_html(text: str) -> str:
    """What a person sees for an HTML-mode text; raises ApiError as Telegram would for bad markup."""
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack and parser.error is None:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    if parser.error:
        raise ApiError(400, f"Bad Request: can't parse entities: {parser.error}")
    return "".join(parser.out)


class FakeTelegram:
    """The fake server plus helpers to act as people and to read what they would see.

    Use as `async with FakeTelegram() as server:`; `server.root` is the Bot API root to configure
    (`<root>/bot<token>/<method>`, `<root>/file/bot<token>/<path>`).
    """

    def __init__(self, token: str = "123456:TEST-fake-token", *, bot_id: int = 4242,
                 username: str = "moodtape_test_bot") -> None:
        self.token = token
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "Moodtape", "username": username,
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        self.root = ""
        self.calls: list[ApiCall] = []
        self.unknown_methods: list[str] = []
        self.commands: list[dict[str, str]] | None = None
        self.commands_by_language: dict[str, list[dict[str, str]]] = {}  # setMyCommands per language_code
        self.inline_answers: dict[str, dict[str, Any]] = {}  # inline query id -> the answerInlineQuery params
        self.inline_queries: set[str] = set()
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._updates: list[dict[str, Any]] = []
        self._files: dict[str, dict[str, Any]] = {}
        self._faults: dict[str, list[ApiError]] = {}
        self._changed: asyncio.Condition | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.webhook: dict[str, Any] | None = None  # setWebhook's url, secret_token, allowed_updates
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status of the bot's answer)
        #: Called with each API call once it is answered (its `status` set), in the server's event loop: a
        #: load test (`moodtape bench bots`) times the bot's replies here instead of polling `calls`.
        self.listeners: list[Callable[[ApiCall], None]] = []

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "FakeTelegram":
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        self._closing = True
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeTelegram":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # ------------------------------------------------------------------ faults
    def fail_once(self, method: str, *, status: int = 429, retry_after: int | None = 1,
                  description: str | None = None) -> None:
        """Answer the next call of `method` with an error (by default Telegram's flood control 429)."""
        if description is None:
            description = f"Too Many Requests: retry after {retry_after}" if status == 429 else "Bad Request"
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._faults.setdefault(method, []).append(ApiError(status, description, parameters))

    # ------------------------------------------------------------------ people and chats
    @staticmethod
    def user(user_id: int, first_name: str = "Ana", username: str | None = None) -> dict[str, Any]:
        person: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name,
                                  "language_code": "en"}
        if username:
            person["username"] = username
        return person

    def private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self.chats[chat["id"]] = chat
        return chat

    def group_chat(self, chat_id: int = -1001234567890, title: str = "Music friends") -> dict[str, Any]:
        chat = {"id": chat_id, "type": "supergroup", "title": title}
        self.chats[chat_id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        update["update_id"] = next(self._update_ids)
        if self.webhook is not None:  # Telegram POSTs each update to the webhook instead of queueing it
            task = asyncio.get_running_loop().create_task(self._deliver(update))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return update
        self._updates.append(update)
        task = asyncio.get_running_loop().create_task(self._notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return update

    def _user_message(self, user: dict[str, Any], chat: dict[str, Any] | None,
                      reply_to: dict[str, Any] | None) -> dict[str, Any]:
        chat = chat or self.private_chat(user)
        self.chats.setdefault(chat["id"], chat)
        message: dict[str, Any] = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()),
                                   "chat": chat, "from": user}
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return message

    def send_text(self, user: dict[str, Any], text: str, *, chat: dict[str, Any] | None = None,
                  reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        """A person sends `text` (commands and @mentions get their entities, as Telegram adds them)."""
        message = self._user_message(user, chat, reply_to)
        message["text"] = text
        entities = _entities(text)
        if entities:
            message["entities"] = entities
        self.messages[(message["chat"]["id"], message["message_id"])] = message
        self._push({"message": message})
        return message

    def add_file(self, data: bytes, *, too_big: bool = False) -> dict[str, Any]:
        """Store a file on the "server"; returns the file_id/file_unique_id/file_size triple clients get."""
        number = next(self._file_ids)
        file_id = f"FILE{number:04d}-{'x' * 20}"
        info = {"file_id": file_id, "file_unique_id": f"U{number:04d}", "file_size": len(data)}
        self._files[file_id] = {**info, "file_path": f"music/file_{number}.bin", "data": data,
                                "too_big": too_big}
        return info

    def send_audio(self, user: dict[str, Any], data: bytes, *, kind: str = "audio",
                   file_name: str = "clip.ogg", mime_type: str = "audio/ogg", duration: int = 5,
                   caption: str | None = None,
                   chat: dict[str, Any] | None = None, reply_to: dict[str, Any] | None = None,
                   too_big: bool = False, claimed_size: int | None = None) -> dict[str, Any]:
        """A person shares audio: `kind` is audio (a music file), voice (a voice note) or document."""
        info = self.add_file(data, too_big=too_big)
        if claimed_size is not None:
            info["file_size"] = claimed_size
        message = self._user_message(user, chat, reply_to)
        if kind == "voice":
            message["voice"] = {**info, "duration": duration, "mime_type": mime_type}
        elif kind == "audio":
            message["audio"] = {**info, "duration": duration, "mime_type": mime_type, "file_name": file_name}
        elif kind == "document":
            message["document"] = {**info, "mime_type": mime_type, "file_name": file_name}
        else:
            raise ValueError(f"unknown kind {kind!r}")
        if caption is not None:
            message["caption"] = caption
            entities = _entities(caption)
            if entities:
                message["caption_entities"] = entities
        self.messages[(message["chat"]["id"], message["message_id"])] = message
        self._push({"message": message})
        return message

    def click(self, user: dict[str, Any], message: dict[str, Any], callback_data: str, *,
              forged: bool = False) -> str:
        """A person taps the inline button with `callback_data` on a bot message; returns the query id.

        `forged`: the message need not show that button (a modified client, or a button of an older version).
        """
        current = self.messages[(message["chat"]["id"], message["message_id"])]
        buttons = [b for row in current.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
        if not forged and not any(b.get("callback_data") == callback_data for b in buttons):
            raise AssertionError(f"no button {callback_data!r} on message {message['message_id']}: {buttons}")
        query_id = f"Q{next(self._query_ids)}"
        query = {"id": query_id, "from": user, "chat_instance": f"ci{current['chat']['id']}",
                 "message": _public(current), "data": callback_data}
        self.callback_queries[query_id] = {"query": query, "answer": None}
        self._push({"callback_query": query})
        return query_id

    # ------------------------------------------------------------------ what people see
    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat as they look now (after edits), oldest first."""
        found = [message for (cid, _), message in self.messages.items()
                 if cid == chat_id and message["from"]["id"] == self.bot["id"]]
        return sorted(found, key=lambda m: m["message_id"])

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        return self.callback_queries[query_id]["answer"]

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
        return message.get("reply_markup", {}).get("inline_keyboard", [])

    async def wait_for(self, condition: Callable[[], T | None], *, timeout: float = 15.0,
                       what: str = "condition") -> T:
        """Poll `condition` until it returns something truthy; fail with the recent calls otherwise."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = condition()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                recent = "\n".join(f"  {c.status} {c.method} {json.dumps(c.params, ensure_ascii=False)[:300]}"
                                   for c in self.calls[-15:])
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; recent calls:\n"
                                     + recent)
            await asyncio.sleep(0.02)

    async def wait_for_message(self, chat_id: int, *, contains: str | None = None, after: int = 0,
                               timeout: float = 15.0) -> dict[str, Any]:
        """The first bot message in the chat with id > `after` whose visible text contains `contains`."""

        def find() -> dict[str, Any] | None:
            for message in self.bot_messages(chat_id):
                shown = message.get("text", message.get("caption") or "")  # a photo's words are its caption
                if message["message_id"] > after and (contains is None or contains in shown):
                    return message
            return None

        what = f"a bot message in chat {chat_id} with {contains!r}"
        return await self.wait_for(find, timeout=timeout, what=what)

    # ------------------------------------------------------------------ HTTP
    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, bytes] = {}
        if request.content_type == "application/json":
            raw.update(await request.json())
            return raw, uploads
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = value.file.read()
                    uploads[f"{key}:filename"] = (value.filename or "").encode("utf-8")
                else:
                    raw[key] = value
        params = {}
        for key, value in raw.items():
            if key in STRING_PARAMS or not isinstance(value, str):
                params[key] = value
                continue
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                params[key] = value
        return params, uploads

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, uploads = await self._params(request)
        call = ApiCall(method, params, uploads=uploads)
        self.calls.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            faults = self._faults.get(method)
            if faults:
                raise faults.pop(0)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                self.unknown_methods.append(method)
                raise ApiError(404, "Not Found")
            result = await (handler(params, uploads) if method in _UPLOAD_METHODS else handler(params))
        except ApiError as exc:
            call.status = exc.status
            body: dict[str, Any] = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            self._answered(call)
            return web.json_response(body, status=exc.status)
        self._answered(call)
        return web.json_response({"ok": True, "result": result})

    def _answered(self, call: ApiCall) -> None:
        for listener in self.listeners:
            listener(call)

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        call = ApiCall("download", {"path": path})
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.status = 401
            return web.Response(status=401, text="Unauthorized")
        for stored in self._files.values():
            if stored["file_path"] == path:
                return web.Response(body=stored["data"], content_type="application/octet-stream")
        call.status = 404
        return web.Response(status=404, text="Not Found")

    # ------------------------------------------------------------------ methods
    async def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            self.webhook = None
            return True
        if not url.startswith(("https://", "http://")):  # a local Bot API server also accepts http
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook["url"] if self.webhook else "", "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def deliver_raw(self, body: bytes, *, secret: str | None) -> int:
        """POST `body` to the webhook as someone who may not be Telegram (wrong or no secret); the status."""
        assert self.webhook is not None, "no webhook is set"
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with ClientSession() as session, session.post(self.webhook["url"], data=body, headers=headers) as answer:
            return answer.status

    async def _deliver(self, update: dict[str, Any]) -> None:
        """What Telegram does with a webhook: POST the update, with the secret token, retry on failure."""
        assert self.webhook is not None
        body = json.dumps(update).encode()
        for _attempt in range(3):
            try:
                status = await self.deliver_raw(body, secret=self.webhook["secret_token"])
            except OSError:
                status = 0
            self.webhook_deliveries.append((update["update_id"], status))
            if status == 200:
                return
            await asyncio.sleep(0.2)

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed ones are gone
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changed:
            while not self._updates and not self._closing and loop.time() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
                except TimeoutError:
                    break
        return self._updates[:limit]

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chats.get(params.get("chat_id"))  # type: ignore[arg-type]
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _text(self, params: dict[str, Any]) -> tuple[str, str]:
        """(raw text, visible text), validated like Telegram does."""
        raw = params.get("text")
        if not isinstance(raw, str) or not raw.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        mode = (params.get("parse_mode") or "").upper()
        if mode == "HTML":
            shown = visible_html(raw)
        elif mode:
            raise AssertionError(f"this fake only parses HTML, not {mode}")
        else:
            shown = raw
        if utf16_len(shown) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return raw, shown

    @staticmethod
    def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        raw, shown = self._text(params)
        message: dict[str, Any] = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()),
                                   "chat": chat, "from": self.bot, "text": shown, "html": raw, "edits": 0}
        markup = self._markup(params)
        if markup:
            message["reply_markup"] = markup
        reply = params.get("reply_parameters") or {}
        target = self.messages.get((chat["id"], reply.get("message_id")))
        if target is not None:
            quoted = _public(target)
            quoted.pop("reply_to_message", None)
            message["reply_to_message"] = quoted
        self.messages[(chat["id"], message["message_id"])] = message
        return _public(message)

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        message = self.messages.get((chat["id"], params.get("message_id")))
        if message is None or message["from"]["id"] != self.bot["id"]:
            raise ApiError(400, "Bad Request: message to edit not found")
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        raw, shown = self._text(params)
        markup = self._markup(params)
        if shown == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup of "
                                "the message")
        message.update(text=shown, html=raw, edits=message["edits"] + 1)
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return _public(message)

    async def _m_sendPhoto(self, params: dict[str, Any], uploads: dict[str, bytes]) -> dict[str, Any]:
        """A photo uploaded as multipart (`photo`), with an optional HTML caption of at most 1024 characters.

        Telegram refuses what it cannot read as an image; here PNG and JPEG are checked by signature.  The
        bytes are kept as a file (`photo_bytes`) so tests decode what a person would see.
        """
        chat = self._chat(params)
        data = uploads.get("photo")
        if data is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        elif data[:3] == b"\xff\xd8\xff":
            width = height = 0
        else:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        caption = params.get("caption")
        message: dict[str, Any] = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()),
                                   "chat": chat, "from": self.bot, "edits": 0}
        if caption:
            mode = (params.get("parse_mode") or "").upper()
            shown = visible_html(caption) if mode == "HTML" else caption
            if utf16_len(shown) > 1024:
                raise ApiError(400, "Bad Request: message caption is too long")
            message.update(caption=shown, html=caption)
        info = self.add_file(data)
        message["photo"] = [{**info, "width": width, "height": height}]
        markup = self._markup(params)
        if markup:
            message["reply_markup"] = markup
        self.messages[(chat["id"], message["message_id"])] = message
        return _public(message)

    async def _m_sendDocument(self, params: dict[str, Any], uploads: dict[str, bytes]) -> dict[str, Any]:
        """A file uploaded as multipart (`document`, its file name from the upload); at most 50 MB, like Telegram."""
        chat = self._chat(params)
        data = uploads.get("document")
        if data is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        if not data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if len(data) > 50 * 1024 * 1024:
            raise ApiError(413, "Request Entity Too Large")
        message: dict[str, Any] = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()),
                                   "chat": chat, "from": self.bot, "edits": 0}
        info = self.add_file(data)
        message["document"] = {**info, "file_name": uploads.get("document:filename", b"").decode("utf-8") or "file"}
        self.messages[(chat["id"], message["message_id"])] = message
        return _public(message)

    def document_bytes(self, message: dict[str, Any]) -> bytes:
        """The bytes of a document message, as a client would download them."""
        return self._files[message["document"]["file_id"]]["data"]

    def photo_bytes(self, message: dict[str, Any]) -> bytes:
        """The bytes of a photo message's largest size, as a client would download them."""
        return self._files[message["photo"][-1]["file_id"]]["data"]

    async def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        entry = self.callback_queries.get(params.get("callback_query_id", ""))
        if entry is None:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is "
                                "invalid")
        if entry["answer"] is not None:
            raise ApiError(400, "Bad Request: query is already answered")
        if len(params.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        entry["answer"] = {"text": params.get("text"), "show_alert": bool(params.get("show_alert"))}
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            if not COMMAND_RE.match(command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError(400, "Bad Request: invalid language code specified")
        self.commands_by_language[language] = commands
        if not language:
            self.commands = commands
        return True

    async def _m_answerInlineQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        if query_id not in self.inline_queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if query_id in self.inline_answers:
            raise ApiError(400, "Bad Request: query is already answered")
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        if len({r.get("id") for r in results}) != len(results):
            raise ApiError(400, "Bad Request: RESULT_ID_DUPLICATE")
        for result in results:
            if not 1 <= len(str(result.get("id", ""))) <= 64 or not result.get("title"):
                raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
            content = result.get("input_message_content") or {}
            if not 1 <= utf16_len(content.get("message_text", "")) <= 4096:
                raise ApiError(400, "Bad Request: MESSAGE_EMPTY")
            if content.get("parse_mode") == "HTML":
                visible_html(content["message_text"])  # raises like Telegram on broken markup
        self.inline_answers[query_id] = params
        return True

    def inline_query(self, user: dict[str, Any], query: str) -> str:
        """A person types `@bot <query>` in some chat; returns the inline query id."""
        query_id = str(next(self._update_ids) * 1000 + 7)
        self.inline_queries.add(query_id)
        self._push({"inline_query": {"id": query_id, "from": user, "query": query, "offset": "",
                                     "chat_type": "sender"}})
        return query_id

    async def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._files.get(params.get("file_id", ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored["too_big"]:
            raise ApiError(400, "Bad Request: file is too big")
        return {k: stored[k] for k in ("file_id", "file_unique_id", "file_size", "file_path")}

    async def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        if self.messages.pop((chat["id"], params.get("message_id")), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True


#: Methods whose handler also gets the multipart uploads.
_UPLOAD_METHODS = {"sendPhoto", "sendDocument"}


def _entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram attaches to a person's text: a leading /command and @mentions."""
    entities = []
    command = re.match(r"^/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))})
    for mention in MENTION_RE.finditer(text):
        if command and mention.start() < command.end():
            continue
        entities.append({"type": "mention", "offset": utf16_len(text[: mention.start()]),
                         "length": utf16_len(mention.group(0))})
    return entities


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as the Bot API returns it (without this fake's own bookkeeping keys)."""
    return {key: value for key, value in message.items() if key not in ("html", "edits")}
