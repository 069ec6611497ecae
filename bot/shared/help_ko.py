"""Korean names and descriptions of the chat commands, for Telegram's Korean command menu and Discord's Korean
localisation.  Keyed by the English command name (`help.COMMANDS`); a test checks every command has one, so a
new command cannot ship without its Korean line.

Telegram command names are ASCII by rule, so there only the descriptions change; Discord shows the Korean names
(`NAMES`) too, while the English name keeps working for everyone.
"""

from __future__ import annotations

__all__ = ["DESCRIPTIONS", "NAMES", "korean_description"]

#: Korean description of each command (Telegram: at most 256 characters; Discord: at most 100).
DESCRIPTIONS: dict[str, str] = {
    "mood": "지금 기분을 말해 주면 어울리는 노래를 골라 드려요",
    "similar": "곡, 링크, 오디오 파일과 비슷한 노래",
    "continue": "제목 하나로 플레이리스트 시작하기 (예: 비 오는 날 잔잔한)",
    "strategy": "기분에 맞추기·끌어올리기·차분하게·활기차게, 기분 그림 켜기/끄기",
    "room": "이 그룹·채널의 분위기에 맞는 노래 (끌어올리기, 차분하게, 활기차게도 가능)",
    "forget": "내 👍/👎 기록 지우기 (추천이 더는 그 기록을 따르지 않아요)",
    "add": "링크로 노래 추가 (관리자 전용)",
    "help": "무엇을 할 수 있는지 알려 드려요",
}

#: Korean command names shown by Discord to people whose client is in Korean.
NAMES: dict[str, str] = {
    "mood": "기분",
    "similar": "비슷한노래",
    "continue": "이어가기",
    "strategy": "전략",
    "room": "방분위기",
    "forget": "기록지우기",
    "add": "추가",
    "help": "도움말",
}


def korean_description(name: str) -> str:
    return DESCRIPTIONS[name]
