"""A small fake Discord (REST API, gateway websocket and CDN on 127.0.0.1) for the real discord.py client.

It models the parts of Discord a bot and the people using it meet, and the rules that bots get wrong:

- login (`GET /users/@me` with `Authorization: Bot <token>`, 401 for a wrong token), the application,
  `/gateway` and `/gateway/bot`; the gateway speaks HELLO / IDENTIFY / READY (+ GUILD_CREATE), heartbeats,
  RESUME, and sends uncompressed text frames;
- intents: guild messages reach the bot only with GUILD_MESSAGES, DMs only with DIRECT_MESSAGES, and without
  the privileged MESSAGE_CONTENT intent a guild message's content is empty unless it mentions the bot;
- slash commands exist only once the bot synced them (`PUT .../commands`), and an invocation carries option
  types taken from that definition (attachments as ids + `resolved`, like Discord);
- an interaction must be acknowledged within `deadline_s` (3 s on Discord) and only once; the first
  follow-up after a deferral *becomes* the deferred message, keeping the deferral's visibility;
- components are clicked on stored messages, whose payload (with its buttons) travels with the click;
- one request can be answered with HTTP 429 carrying the headers and body Discord sends.

Every request is recorded (`calls`), and every message a person could see is kept (`messages`) with whether it
is ephemeral, so tests assert on what users would see.  JSON responses carry exactly `application/json`, the
only content type discord.py parses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
GUILD_PRESENCES = 1 << 8
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# Permission bits.
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY \
    | USE_APPLICATION_COMMANDS

OPTION_ATTACHMENT = 11


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with `Content-Type: application/json` exactly (aiohttp's json_response adds a charset)."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def error(status: int, message: str, code: int = 0) -> web.Response:
    return json_response({"message": message, "code": code}, status)


def message_problem(body: dict[str, Any]) -> str | None:
    """What Discord would refuse in a message body (HTTP 400, "Invalid Form Body"), or None."""
    if len(body.get("content") or "") > 2000:
        return "content: must be 2000 or fewer in length"
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        return "embeds: must be 10 or fewer in length"
    for embed in embeds:
        fields = embed.get("fields") or []
        sizes = [len(embed.get("title") or ""), len(embed.get("description") or ""),
                 len((embed.get("footer") or {}).get("text") or "")]
        sizes += [len(f.get("name") or "") + len(f.get("value") or "") for f in fields]
        if sizes[0] > 256 or sizes[1] > 4096 or len(fields) > 25 or sum(sizes) > 6000:
            return "embeds: an embed exceeds its limits"
        if any(not f.get("name") or not f.get("value") or len(f["name"]) > 256 or len(f["value"]) > 1024
               for f in fields):
            return "embeds: a field is empty or too long"
    rows = body.get("components") or []
    if len(rows) > 5:
        return "components: must be 5 or fewer in length"
    custom_ids = []
    for row in rows:
        if row.get("type") != 1 or not 1 <= len(row.get("components") or []) <= 5:
            return "components: an action row holds 1 to 5 components"
        for component in row["components"]:
            custom_id = component.get("custom_id")
            if component.get("type") == 2 and component.get("style") != 5:
                if not custom_id or len(custom_id) > 100:
                    return "components: a button needs a custom_id of at most 100 characters"
                custom_ids.append(custom_id)
            if len(component.get("label") or "") > 80:
                return "components: a label must be 80 or fewer in length"
    if len(custom_ids) != len(set(custom_ids)):
        return "components: custom_ids must be unique"
    return None


@dataclass
class Call:
    """One HTTP request the bot made, as the fake saw it."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any  # parsed JSON (or the payload_json of a multipart request), else None
    status: int = 0
    files: list[tuple[str, bytes]] = field(default_factory=list)  # a multipart request's files: (name, bytes)


#: Where the middleware leaves a request's `Call` for its handler.
CALL = web.RequestKey("call", Call)


@dataclass
class Message:
    """A message as people see it (`ephemeral`: only the person who triggered the interaction)."""

    payload: dict[str, Any]
    ephemeral: bool = False
    loading: bool = False  # a deferred "is thinking…" placeholder not yet replaced
    deleted: bool = False
    interaction_id: int | None = None

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def content(self) -> str:
        return self.payload.get("content") or ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.payload.get("embeds") or []

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for row in self.payload.get("components") or [] for c in row.get("components", [])
                if c.get("type") == 2]

    def text(self) -> str:
        """Everything readable in the message, for assertions: content, embed titles, texts and fields."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [f"{f.get('name')}\n{f.get('value')}" for f in embed.get("fields") or []]
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)


@dataclass
class Interaction:
    """An interaction the fake sent, and what the bot did with it."""

    id: int
    token: str
    type: int
    user: dict[str, Any]
    channel_id: int
    guild_id: int | None
    created: float
    response_type: int | None = None
    response_status: int | None = None
    original: int | None = None  # message id of the original response
    messages: list[int] = field(default_factory=list)  # original and follow-ups, in order
    clicked: int | None = None  # for a component interaction: the message whose button was clicked
    choices: list[dict[str, Any]] | None = None  # an autocomplete interaction's answer


class FakeDiscord:
    """Discord on 127.0.0.1: `start()`, point discord.py at `api_base`/`gateway_url`, then act as people."""

    def __init__(self, *, token: str = "fake-bot-token", deadline_s: float = 3.0) -> None:
        self.token = token
        self.deadline_s = deadline_s
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self.app_id = self.snowflake()
        self.bot_user = self.user("moodtape", bot=True, user_id=self.app_id)
        self.guild_id = self.snowflake()
        self.channel_id = self.snowflake()
        self.dj_role_id = self.snowflake()
        self.roles = [
            self._role(self.guild_id, "@everyone", MEMBER_PERMISSIONS, position=0),
            self._role(self.dj_role_id, "DJ", MEMBER_PERMISSIONS, position=1),
        ]
        self.calls: list[Call] = []
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, Interaction] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global) -> definitions
        self.files: dict[str, tuple[bytes, str]] = {}
        self.cdn_hits: Counter[str] = Counter()  # file name -> downloads
        self.identify: dict[str, Any] | None = None
        self.heartbeats = 0
        self._rate_limits: list[tuple[str, re.Pattern[str], float]] = []
        self._ws: web.WebSocketResponse | None = None
        self._seq = 0
        self._session_id = "fake-session"
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{name}", self._cdn)
        api = [
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/gateway", self._gateway_info),
            ("GET", "/gateway/bot", self._gateway_info),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("GET", "/applications/{app}/commands", self._get_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self._get_commands),
            ("POST", "/interactions/{iid}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("GET", "/webhooks/{app}/{token}/messages/{mid}", self._get_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self._edit_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self._delete_webhook_message),
            ("POST", "/channels/{cid}/messages", self._channel_message),
            ("POST", "/channels/{cid}/typing", self._typing),
        ]
        for method, path, handler in api:
            app.router.add_route(method, API_PREFIX + path, handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ------------------------------------------------------------------ people and things
    def snowflake(self) -> int:
        return next(self._ids)

    def user(self, name: str, *, bot: bool = False, user_id: int | None = None) -> dict[str, Any]:
        return {"id": str(user_id or self.snowflake()), "username": name, "global_name": name,
                "discriminator": "0", "avatar": None, "bot": bot, "public_flags": 0}

    @staticmethod
    def _role(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
        return {"id": str(role_id), "name": name, "color": 0, "hoist": False, "position": position,
                "permissions": str(permissions), "managed": False, "mentionable": False, "flags": 0}

    def add_file(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Serve `data` from the fake CDN and return its URL."""
        self.files[name] = (data, content_type)
        return f"{self.base}/cdn/{name}"

    def attachment(self, filename: str, data: bytes, content_type: str | None = "audio/ogg",
                   size: int | None = None) -> dict[str, Any]:
        """An attachment payload as Discord puts it in `resolved.attachments`, its bytes on the CDN.

        `size` overrides the advertised size (to test a client that must not trust it).
        """
        attachment_id = self.snowflake()
        url = self.add_file(f"{attachment_id}-{filename}", data, content_type or "application/octet-stream")
        payload = {"id": str(attachment_id), "filename": filename, "url": url, "proxy_url": url,
                   "size": len(data) if size is None else size, "ephemeral": True}
        if content_type:
            payload["content_type"] = content_type
        return payload

    def _member(self, user: dict[str, Any], roles: list[int], permissions: int) -> dict[str, Any]:
        return {"user": user, "roles": [str(r) for r in roles], "permissions": str(permissions),
                "joined_at": _now_iso(), "deaf": False, "mute": False, "flags": 0, "nick": None,
                "avatar": None,
                "pending": False, "premium_since": None, "communication_disabled_until": None}

    # ------------------------------------------------------------------ what people do
    async def slash(self, name: str, user: dict[str, Any], *, roles: list[int] | None = None,
                    permissions: int = MEMBER_PERMISSIONS, dm: bool = False, **options: Any) -> Interaction:
        """Run `/name option:value ...` as `user`, the way Discord's client would send it."""
        definition = self._command(name, dm)
        wire_options = []
        resolved: dict[str, Any] = {}
        known = {o["name"]: o for o in definition.get("options", [])}
        for required in (o["name"] for o in known.values() if o.get("required")):
            if required not in options:
                raise AssertionError(f"/{name} needs option {required}; Discord would not send it")
        for key, value in options.items():
            if key not in known:
                raise AssertionError(f"/{name} has no option {key!r} (it has {sorted(known)})")
            kind = known[key]["type"]
            if kind == OPTION_ATTACHMENT:
                resolved.setdefault("attachments", {})[value["id"]] = value
                value = value["id"]
            elif known[key].get("choices"):
                allowed = [c["value"] for c in known[key]["choices"]]
                if value not in allowed:
                    raise AssertionError(f"/{name} {key}: {value!r} is not one of the choices {allowed}")
            wire_options.append({"name": key, "type": kind, "value": value})
        data: dict[str, Any] = {"id": definition["id"], "name": name, "type": 1, "options": wire_options}
        if resolved:
            data["resolved"] = resolved
        if definition.get("guild_id"):
            data["guild_id"] = definition["guild_id"]
        return await self._interact(2, data, user, roles or [], permissions, dm)

    async def autocomplete(self, name: str, option: str, typed: str, user: dict[str, Any], *,
                           dm: bool = False, **others: Any) -> Interaction:
        """A person types `typed` into option `option` of `/name` (other options as already filled in)."""
        definition = self._command(name, dm)
        known = {o["name"]: o for o in definition.get("options", [])}
        if not known.get(option, {}).get("autocomplete"):
            raise AssertionError(f"/{name} {option} has no autocomplete; Discord would not ask the bot")
        wire = [{"name": key, "type": known[key]["type"], "value": value} for key, value in others.items()]
        wire.append({"name": option, "type": known[option]["type"], "value": typed, "focused": True})
        data = {"id": definition["id"], "name": name, "type": 1, "options": wire}
        if definition.get("guild_id"):
            data["guild_id"] = definition["guild_id"]
        return await self._interact(4, data, user, [], MEMBER_PERMISSIONS, dm)

    async def message_command(self, name: str, message: dict[str, Any], user: dict[str, Any]) -> Interaction:
        """A person picks the message context-menu command `name` (Apps) on `message` (a message payload)."""
        definition = self._command(name, False)
        if definition.get("type") != 3:
            raise AssertionError(f"{name!r} is not a message command")
        data = {"id": definition["id"], "name": name, "type": 3, "target_id": message["id"],
                "resolved": {"messages": {message["id"]: message}}}
        if definition.get("guild_id"):
            data["guild_id"] = definition["guild_id"]
        return await self._interact(2, data, user, [], MEMBER_PERMISSIONS, False)

    async def click(self, message: Message, custom_id: str, user: dict[str, Any], *,
                    roles: list[int] | None = None, permissions: int = MEMBER_PERMISSIONS,
                    forged: bool = False) -> Interaction:
        """Click the button `custom_id` of `message` (which must show it, unless `forged`: a modified client)."""
        if not forged and not any(b.get("custom_id") == custom_id for b in message.buttons):
            raise AssertionError(f"message {message.id} has no button {custom_id!r}")
        if message.deleted:
            raise AssertionError(f"message {message.id} was deleted")
        data = {"custom_id": custom_id, "component_type": 2}
        dm = message.payload.get("guild_id") is None and int(message.payload["channel_id"]) != self.channel_id
        return await self._interact(3, data, user, roles or [], permissions, dm, message=message.payload)

    async def post_message(self, content: str, user: dict[str, Any], *, dm: bool = False,
                           mention_bot: bool = False, attachments: list[dict[str, Any]] | None = None
                           ) -> dict[str, Any]:
        """A person writes in the server channel (or a DM); delivered as the bot's intents allow."""
        channel_id = self.snowflake() if dm else self.channel_id
        mentions = [self.bot_user] if mention_bot else []
        if mention_bot and f"<@{self.app_id}>" not in content:
            content = f"<@{self.app_id}> {content}"
        payload: dict[str, Any] = {
            "id": str(self.snowflake()), "channel_id": str(channel_id), "author": user, "content": content,
            "timestamp": _now_iso(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": mentions, "mention_roles": [], "attachments": attachments or [], "embeds": [],
            "pinned": False, "type": 0, "flags": 0, "components": [],
        }
        if not dm:
            payload["guild_id"] = str(self.guild_id)
            member = self._member(user, [], MEMBER_PERMISSIONS)
            payload["member"] = {k: v for k, v in member.items() if k != "user"}
        intents = self.intents
        if not intents & (DIRECT_MESSAGES if dm else GUILD_MESSAGES):
            return payload  # Discord does not deliver it
        if not dm and not mention_bot and not intents & MESSAGE_CONTENT:
            payload.update(content="", embeds=[], attachments=[], components=[])
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def _interact(self, kind: int, data: dict[str, Any], user: dict[str, Any], roles: list[int],
                        permissions: int, dm: bool, message: dict[str, Any] | None = None) -> Interaction:
        interaction_id = self.snowflake()
        token = f"itoken-{interaction_id}"
        channel_id = int(message["channel_id"]) if message else (self.snowflake() if dm else self.channel_id)
        payload: dict[str, Any] = {
            "id": str(interaction_id), "application_id": str(self.app_id), "type": kind, "data": data,
            "token": token, "version": 1, "locale": "en-US", "entitlements": [],
            "attachment_size_limit": 10 << 20,
            "app_permissions": str(MEMBER_PERMISSIONS), "channel_id": str(channel_id),
        }
        if dm:
            payload["user"] = user
            payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user]}
            payload["context"] = 1
            payload["authorizing_integration_owners"] = {"0": str(self.guild_id)}
        else:
            payload["guild_id"] = str(self.guild_id)
            payload["guild_locale"] = "en-US"
            payload["guild"] = {"id": str(self.guild_id), "locale": "en-US", "features": []}
            payload["member"] = self._member(user, roles, permissions)
            payload["channel"] = {"id": str(channel_id), "type": 0, "guild_id": str(self.guild_id),
                                  "name": "general", "position": 0, "permission_overwrites": [],
                                  "nsfw": False}
            payload["context"] = 0
            payload["authorizing_integration_owners"] = {"0": str(self.guild_id)}
        if message is not None:
            payload["message"] = message
        record = Interaction(interaction_id, token, kind, user, channel_id, None if dm else self.guild_id,
                             time.monotonic(), clicked=int(message["id"]) if message else None)
        self.interactions[interaction_id] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    # ------------------------------------------------------------------ test helpers
    def rate_limit_once(self, method: str, path_pattern: str, retry_after: float = 0.25) -> None:
        """Answer the next `method` request whose path matches `path_pattern` with a 429."""
        self._rate_limits.append((method, re.compile(path_pattern), retry_after))

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        pattern = re.compile(path_pattern)
        return [c for c in self.calls if c.method == method and pattern.fullmatch(c.path)]

    def replies(self, interaction: Interaction) -> list[Message]:
        """Messages this interaction produced (original response first), deleted ones excluded."""
        return [self.messages[m] for m in interaction.messages if not self.messages[m].deleted]

    def channel_messages(self, channel_id: int | str | None = None) -> list[Message]:
        wanted = str(channel_id or self.channel_id)
        return [m for m in self.messages.values()
                if m.payload["channel_id"] == wanted and m.interaction_id is None and not m.deleted]

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    @property
    def intents(self) -> int:
        return int((self.identify or {}).get("intents", 0))

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 20.0,
                         what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            await asyncio.sleep(0.01)

    async def answered(self, interaction: Interaction, count: int = 1,
                       timeout: float = 30.0) -> list[Message]:
        """The interaction's replies once `count` of them are final (not "thinking…" any more)."""
        def done() -> list[Message] | None:
            replies = self.replies(interaction)
            final = [m for m in replies if not m.loading]
            return final if len(final) >= count else None

        return await self.wait_until(done, timeout, f"{count} repl(ies) to interaction {interaction.id}")

    # ------------------------------------------------------------------ gateway
    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        if self._ws is None or self._ws.closed:
            raise AssertionError("no bot is connected to the gateway")
        self._seq += 1
        await self._ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            op = message.get("op")
            if op == 1:
                self.heartbeats += 1
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                if message["d"].get("token") != self.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                self.identify = message["d"]
                self._ws = ws
                self._seq = 0
                await self.dispatch("READY", self._ready())
                await self.dispatch("GUILD_CREATE", self._guild())
            elif op == 6:
                self._ws = ws
                await self.dispatch("RESUMED", {})
        return ws

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10, "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}], "session_id": self._session_id,
            "resume_gateway_url": self.gateway_url, "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [], "relationships": [],
        }

    def _guild(self) -> dict[str, Any]:
        bot_member = self._member(self.bot_user, [], MEMBER_PERMISSIONS)
        return {
            "id": str(self.guild_id), "name": "Test server", "icon": None, "owner_id": str(self.snowflake()),
            "roles": self.roles, "emojis": [], "stickers": [], "features": [], "member_count": 3,
            "large": False,
            "unavailable": False, "joined_at": _now_iso(), "members": [bot_member], "presences": [],
            "voice_states": [], "threads": [], "stage_instances": [], "guild_scheduled_events": [],
            "soundboard_sounds": [], "premium_tier": 0, "preferred_locale": "en-US", "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0,
            "system_channel_flags": 0,
            "channels": [{"id": str(self.channel_id), "type": 0, "name": "general", "position": 0,
                          "permission_overwrites": [], "nsfw": False, "parent_id": None,
                          "rate_limit_per_user": 0, "topic": None, "last_message_id": None}],
        }

    # ------------------------------------------------------------------ REST
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        path = request.path
        if not path.startswith(API_PREFIX):
            return await handler(request)
        call = Call(request.method, path[len(API_PREFIX):], dict(request.query), await self._body(request))
        call.files = await self._uploads(request)
        self.calls.append(call)
        request[CALL] = call
        for index, (method, pattern, retry_after) in enumerate(self._rate_limits):
            if method == request.method and pattern.fullmatch(call.path):
                del self._rate_limits[index]
                call.status = 429
                reset = time.time() + retry_after
                return json_response(
                    {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                    429,
                    {"Retry-After": str(max(1, round(retry_after))), "X-RateLimit-Limit": "5",
                     "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{reset:.3f}",
                     "X-RateLimit-Reset-After": f"{retry_after:.3f}", "X-RateLimit-Bucket": "fakebucket",
                     "X-RateLimit-Scope": "user", "Via": "1.1 google"},
                )
        needs_auth = not (call.path.startswith("/interactions/") or call.path.startswith("/webhooks/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            call.status = 401
            return error(401, "401: Unauthorized")
        response = await handler(request)
        call.status = response.status
        return response

    @staticmethod
    async def _body(request: web.Request) -> Any:
        if not request.can_read_body:
            return None
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            return json.loads(raw) if isinstance(raw, str) else None
        text = await request.text()
        return json.loads(text) if text else None

    @staticmethod
    async def _uploads(request: web.Request) -> list[tuple[str, bytes]]:
        """The files of a multipart message (`files[n]` parts, as discord.py sends them), in order."""
        if not request.content_type.startswith("multipart/"):
            return []
        form = await request.post()  # the form `_body` parsed (aiohttp keeps it; the body is read by now)
        return [(value.filename, value.file.read()) for key, value in form.items()
                if isinstance(value, web.FileField) and key.startswith("files[")]

    def _attach(self, message: Message, call: Call) -> None:
        """Files sent with a message become its attachments, served from the fake CDN like Discord's."""
        if not call.files:
            return
        attachments = []
        for name, data in call.files:
            attachment_id = self.snowflake()
            url = self.add_file(f"{attachment_id}-{name}", data, "image/png" if name.endswith(".png") else
                                "application/octet-stream")
            attachments.append({"id": str(attachment_id), "filename": name, "size": len(data), "url": url,
                                "proxy_url": url})
        message.payload["attachments"] = attachments

    def attachment_bytes(self, message: Message, filename: str) -> bytes:
        """The bytes of `message`'s attachment called `filename` (what a client would download)."""
        for attachment in message.payload.get("attachments") or []:
            if attachment["filename"] == filename:
                return self.files[attachment["url"].rsplit("/", 1)[1]][0]
        raise AssertionError(f"message {message.id} has no attachment {filename!r}")

    async def _unknown(self, request: web.Request) -> web.Response:
        return error(404, "404: Not Found")

    async def _me(self, request: web.Request) -> web.Response:
        return json_response({**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _application(self, request: web.Request) -> web.Response:
        owner = self.user("owner")
        return json_response({
            "id": str(self.app_id), "name": "Moodtape", "description": "", "icon": None, "bot_public": True,
            "bot_require_code_grant": False, "owner": owner, "verify_key": "0" * 64, "flags": 0, "team": None,
            "summary": "", "rpc_origins": [], "bot": self.bot_user,
        })

    async def _gateway_info(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}})

    async def _put_commands(self, request: web.Request) -> web.Response:
        if int(request.match_info["app"]) != self.app_id:
            return error(403, "Missing Access", 50001)
        guild = request.match_info.get("guild")
        body = request[CALL].body or []
        stored = []
        for command in body:
            item = {"description": "", **command, "id": str(self.snowflake()), "application_id": str(self.app_id),
                    "version": str(self.snowflake()), "type": command.get("type", 1)}  # (menus: description "")
            if guild:
                item["guild_id"] = guild
            stored.append(item)
        self.commands[int(guild) if guild else None] = stored
        return json_response(stored)

    async def _get_commands(self, request: web.Request) -> web.Response:
        guild = request.match_info.get("guild")
        return json_response(self.commands.get(int(guild) if guild else None, []))

    def _command(self, name: str, dm: bool) -> dict[str, Any]:
        scopes = [None] if dm else [self.guild_id, None]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return command
        raise AssertionError(f"/{name} is not a synced command (synced: "
                             f"{[c['name'] for cs in self.commands.values() for c in cs]})")

    def _new_message(self, body: dict[str, Any], channel_id: int | str, *, ephemeral: bool,
                     loading: bool = False, interaction: Interaction | None = None) -> Message:
        message_id = self.snowflake()
        flags = (EPHEMERAL if ephemeral else 0) | (LOADING if loading else 0)
        payload: dict[str, Any] = {
            "id": str(message_id), "channel_id": str(channel_id), "author": self.bot_user,
            "content": body.get("content") or "", "embeds": body.get("embeds") or [],
            "components": body.get("components") or [], "attachments": [], "timestamp": _now_iso(),
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
            "mention_roles": [],
            "pinned": False, "type": 0, "flags": flags,
        }
        if interaction is not None:
            payload["type"] = 20 if interaction.type == 2 else 0
            payload["webhook_id"] = str(self.app_id)
            payload["application_id"] = str(self.app_id)
            payload["interaction_metadata"] = {"id": str(interaction.id), "type": interaction.type,
                                               "user": interaction.user}
            if interaction.guild_id:
                payload["guild_id"] = str(interaction.guild_id)
        elif int(channel_id) == self.channel_id:
            payload["guild_id"] = str(self.guild_id)
        reference = body.get("message_reference")
        if reference:
            payload["message_reference"] = {key: str(value) if key.endswith("_id") else value
                                            for key, value in reference.items()}
            payload["type"] = 19
        message = Message(payload, ephemeral=ephemeral, loading=loading,
                          interaction_id=interaction.id if interaction else None)
        self.messages[message_id] = message
        if interaction is not None:
            interaction.messages.append(message_id)
        return message

    @staticmethod
    def _edit(message: Message, body: dict[str, Any]) -> None:
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                message.payload[key] = body[key]
        message.payload["edited_timestamp"] = _now_iso()
        if message.loading:
            message.loading = False
            message.payload["flags"] = message.payload["flags"] & ~LOADING

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(int(request.match_info["iid"]))
        if interaction is None or interaction.token != request.match_info["token"]:
            return error(404, "Unknown interaction", 10062)
        if interaction.response_type is not None:
            return error(400, "Interaction has already been acknowledged.", 40060)
        if time.monotonic() - interaction.created > self.deadline_s:
            interaction.response_status = 404
            return error(404, "Unknown interaction", 10062)
        body = request[CALL].body or {}
        kind = body.get("type")
        data = body.get("data") or {}
        problem = message_problem(data) if kind in (4, 7) else None
        if problem:
            return error(400, f"Invalid Form Body: {problem}", 50035)
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        interaction.response_type = kind
        interaction.response_status = 200
        message: Message | None = None
        if kind == 4:
            message = self._new_message(data, interaction.channel_id, ephemeral=ephemeral,
                                        interaction=interaction)
            self._attach(message, request[CALL])  # files sent with the response (multipart)
        elif kind == 5:
            message = self._new_message({}, interaction.channel_id, ephemeral=ephemeral, loading=True,
                                        interaction=interaction)
        elif kind == 7:
            clicked = self._clicked_message(interaction)
            if clicked is not None:
                self._edit(clicked, data)
        elif kind == 8:
            choices = data.get("choices")
            if interaction.type != 4 or not isinstance(choices, list) or len(choices) > 25:
                return error(400, "Invalid Form Body: choices (at most 25, for autocomplete only)", 50035)
            for choice in choices:
                if not 1 <= len(str(choice.get("name", ""))) <= 100 or len(str(choice.get("value", ""))) > 100:
                    return error(400, "Invalid Form Body: a choice's name or value is too long", 50035)
            interaction.choices = choices
        elif kind not in (1, 6):
            return error(400, f"Invalid interaction response type {kind}", 50035)
        if message is not None:
            interaction.original = message.id
        answer: dict[str, Any] = {"interaction": {
            "id": str(interaction.id), "type": interaction.type, "response_message_id":
                str(message.id) if message else None, "response_message_loading": kind == 5,
            "response_message_ephemeral": ephemeral}}
        if message is not None:
            answer["resource"] = {"type": kind, "message": message.payload}
        return json_response(answer)

    def _clicked_message(self, interaction: Interaction) -> Message | None:
        return self.messages.get(interaction.clicked) if interaction.clicked else None

    def _interaction_by_token(self, request: web.Request) -> Interaction | None:
        if int(request.match_info["app"]) != self.app_id:
            return None
        token = request.match_info["token"]
        return next((i for i in self.interactions.values() if i.token == token), None)

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._interaction_by_token(request)
        if interaction is None or interaction.response_type is None:
            return error(404, "Unknown Webhook", 10015)
        body = request[CALL].body or {}
        problem = message_problem(body)
        if problem:
            return error(400, f"Invalid Form Body: {problem}", 50035)
        original = self.messages.get(interaction.original) if interaction.original else None
        if original is not None and original.loading and not original.deleted:
            # Discord: a follow-up to an unresolved deferral resolves it, with the deferral's visibility.
            self._edit(original, body)
            self._attach(original, request[CALL])
            return json_response(original.payload)
        ephemeral = bool(int(body.get("flags") or 0) & EPHEMERAL)
        message = self._new_message(body, interaction.channel_id, ephemeral=ephemeral,
                                    interaction=interaction)
        self._attach(message, request[CALL])
        return json_response(message.payload)

    def _webhook_message(self, request: web.Request) -> tuple[Interaction | None, Message | None]:
        interaction = self._interaction_by_token(request)
        if interaction is None:
            return None, None
        wanted = request.match_info["mid"]
        message_id = interaction.original if wanted == "@original" else int(wanted)
        if message_id not in interaction.messages:
            return interaction, None
        message = self.messages[message_id]
        return interaction, None if message.deleted else message

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_message(request)
        return json_response(message.payload) if message else error(404, "Unknown Message", 10008)

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_message(request)
        if message is None:
            return error(404, "Unknown Message", 10008)
        body = request[CALL].body or {}
        problem = message_problem(body)
        if problem:
            return error(400, f"Invalid Form Body: {problem}", 50035)
        self._edit(message, body)
        return json_response(message.payload)

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_message(request)
        if message is None:
            return error(404, "Unknown Message", 10008)
        message.deleted = True
        return web.Response(status=204)

    async def _channel_message(self, request: web.Request) -> web.Response:
        body = request[CALL].body or {}
        if not (body.get("content") or body.get("embeds")):
            return error(400, "Cannot send an empty message", 50006)
        problem = message_problem(body)
        if problem:
            return error(400, f"Invalid Form Body: {problem}", 50035)
        message = self._new_message(body, request.match_info["cid"], ephemeral=False)
        self._attach(message, request[CALL])
        return json_response(message.payload)

    async def _typing(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _cdn(self, request: web.Request) -> web.Response:
        self.cdn_hits[request.match_info["name"]] += 1
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404, text="not found")
        data, content_type = found
        return web.Response(body=data, headers={"Content-Type": content_type})
