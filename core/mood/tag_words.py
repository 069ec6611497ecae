"""The sound words of a chat message ("something chill with piano", "보컬 없는 잔잔한 곡") as musicnn tags.

The emotion model reads how a message feels; it does not hear "piano" or "no vocals".  This module finds the
words people use for the canonical musicnn tags (`core.audio.musicnn_tags.KINDS`), in English and Korean,
and whether each is asked for or asked away, so the mood search can prefer songs that sound like the words.

Korean is matched as a word stem followed by particles and noun suffixes from a closed list (피아노로,
기타랑, 드럼이, 재즈풍, 락음악은) rather than with Kiwi: the vocabulary is ~200 nouns and adjective forms
whose endings are known in advance, Kiwi is an optional dependency that takes about a second to start,
and a fixed list keeps "기타등등" (etc.) from being split into 기타 + 등등 and read as "guitar".

Ambiguous words carry context rules: "rock" before "bottom"/"solid", "strings attached", "soap opera",
"in a funk", "happy birthday", "the country"; 기타 before 등/사항/의견 ("other"); "house", "soul",
"solo" and "indian" only in phrases that are about music.  Mood words (sad, chill, 잔잔한) are found like
any other, and `core.recommend.tag_match` weighs them lightly, since the mood reading already follows them.

Negation: English negators ("no", "not", "without", "except", "don't want", "anything but", "instead of",
"rather than") apply forward to the tag words that follow, through "too"/"any"/"the" and lists joined by
"or"/"and"/","; Korean negators (없는, 없이, 빼고, 말고, 제외, 싫어, 아닌, 별로, 안 들어간), written apart or
attached, apply backward to the run of tag words just before them (드럼이나 기타 없는 -> no drums, no
guitar).  Asking vocals away asks for "instrumental" and the other way round.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["TagQuery", "parse_tags"]

#: Longer messages are read up to here: a chat message is far shorter, and the scan stays linear and quick.
MAX_CHARS = 20_000


@dataclass(frozen=True)
class TagQuery:
    """Canonical tag words a message asks for (`include`) and asks away (`exclude`), in reading order."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)


#: canonical tag -> English phrases (space-separated words; hyphens and apostrophes are removed first).
_EN: dict[str, tuple[str, ...]] = {
    "rock": ("rock", "rock music", "rock n roll", "rock and roll", "rocknroll"),
    "pop": ("pop", "pop music", "k pop", "kpop", "j pop", "jpop", "pop songs"),
    "alternative": ("alternative", "alt rock", "alternative rock"),
    "indie": ("indie", "indie rock", "indie pop"),
    "electronic": ("electronic", "electronica", "electro", "edm", "electronic music", "drum and bass",
                   "drum n bass", "dnb"),
    "dance": ("dance", "dancing", "danceable", "dance music", "club music"),
    "jazz": ("jazz", "jazzy"),
    "metal": ("metal", "heavy metal"),
    "classic rock": ("classic rock",),
    "soul": ("soul music", "soulful", "neo soul", "soul songs", "motown"),
    "folk": ("folk", "folk music", "folky"),
    "punk": ("punk", "punk rock"),
    "blues": ("blues", "bluesy"),
    "hard rock": ("hard rock",),
    "ambient": ("ambient",),
    "experimental": ("experimental", "avant garde"),
    "hip-hop": ("hip hop", "hiphop", "rap", "rapping", "rapper", "rappers", "trap"),
    "country": ("country", "country music", "country songs"),
    "funk": ("funk", "funky"),
    "progressive rock": ("progressive rock", "prog rock", "prog"),
    "r&b": ("r&b", "rnb", "r and b", "rhythm and blues"),
    "house": ("house music", "deep house", "tech house", "house tracks"),
    "techno": ("techno",),
    "classical": ("classical", "classical music", "orchestral", "symphony", "symphonic"),
    "opera": ("opera", "operatic", "aria", "arias"),
    "new age": ("new age",),
    "indian": ("indian music", "indian classical", "bollywood"),
    "easy listening": ("easy listening",),
    "oldies": ("oldies", "golden oldies"),
    "guitar": ("guitar", "guitars", "guitarist"),
    "strings": ("strings", "string section", "string quartet", "orchestra"),
    "drums": ("drums", "drum", "drumming", "percussion"),
    "piano": ("piano", "pianos", "pianist"),
    "violin": ("violin", "violins", "fiddle"),
    "synth": ("synth", "synths", "synthesizer", "synthesizers", "synthesiser", "synthesisers"),
    "harpsichord": ("harpsichord",),
    "flute": ("flute", "flutes"),
    "sitar": ("sitar",),
    "harp": ("harp",),
    "cello": ("cello", "cellos"),
    "beat": ("beats",),
    "acoustic": ("acoustic", "unplugged"),
    "choir": ("choir", "choral"),
    "vocals": ("vocals", "vocal", "singing", "singer", "singers", "lyrics", "a cappella", "acappella"),
    "female vocals": ("female vocals", "female vocal", "female vocalist", "female singer", "female singers",
                      "female voice", "woman singing", "women singing", "womans voice", "girl singing"),
    "male vocals": ("male vocals", "male vocal", "male vocalist", "male singer", "male singers", "male voice",
                    "man singing", "men singing", "mans voice", "guy singing"),
    "instrumental": ("instrumental", "instrumentals", "wordless"),
    "beautiful": ("beautiful", "gorgeous"),
    "mellow": ("mellow", "calm", "calming", "relaxing", "peaceful"),
    "chill": ("chill", "chilled", "chillout", "chill out", "laid back", "lofi", "lo fi"),
    "party": ("party", "partying"),
    "sexy": ("sexy", "sensual"),
    "catchy": ("catchy",),
    "sad": ("sad", "sadness", "melancholy", "melancholic", "gloomy"),
    "happy": ("happy", "cheerful", "joyful", "upbeat"),
    "weird": ("weird", "quirky", "strange"),
    "soft": ("soft", "gentle"),
    "quiet": ("quiet",),
    "loud": ("loud", "noisy"),
    "slow": ("slow", "slower", "slow tempo"),
    "fast": ("fast", "faster", "uptempo", "up tempo", "high tempo"),
    "2000s": ("2000s", "00s", "noughties"),
    "90s": ("90s", "1990s", "nineties"),
    "80s": ("80s", "1980s", "eighties"),
    "70s": ("70s", "1970s", "seventies"),
    "60s": ("60s", "1960s", "sixties"),
}

#: English phrases that stand for two tags at once.
_EN_PAIRS: dict[str, tuple[str, ...]] = {
    "piano solo": ("piano", "solo"), "solo piano": ("piano", "solo"),
    "guitar solo": ("guitar", "solo"), "solo guitar": ("guitar", "solo"),
    "violin solo": ("violin", "solo"), "solo violin": ("violin", "solo"),
    "cello solo": ("cello", "solo"), "solo cello": ("cello", "solo"),
    "acoustic guitar": ("acoustic", "guitar"), "slow jam": ("slow", "r&b"), "slow jams": ("slow", "r&b"),
    "electric guitar": ("guitar", "rock"),
    "🎹": ("piano",), "🎸": ("guitar",), "🥁": ("drums",), "🎻": ("violin",), "🎷": ("jazz",),
}

#: canonical tag -> Korean stems (a particle or noun suffix may follow; spaces inside become both forms).
_KO: dict[str, tuple[str, ...]] = {
    "rock": ("록", "락", "로큰롤", "락앤롤", "록앤롤", "록밴드", "락밴드"),
    "pop": ("팝", "케이팝", "팝송"),
    "alternative": ("얼터너티브", "얼터"),
    "indie": ("인디",),
    "electronic": ("일렉트로닉", "일렉트로니카", "전자 음악", "이디엠", "일렉"),
    "dance": ("댄스", "춤추기", "춤출"),
    "jazz": ("재즈",),
    "metal": ("메탈", "헤비메탈", "헤비 메탈"),
    "classic rock": ("클래식 록", "클래식 락"),
    "soul": ("소울",),
    "folk": ("포크",),
    "punk": ("펑크", "펑크 록", "펑크 락"),
    "blues": ("블루스",),
    "hard rock": ("하드 록", "하드 락"),
    "ambient": ("앰비언트", "엠비언트"),
    "experimental": ("실험 음악", "실험적인"),
    "hip-hop": ("힙합", "랩", "래퍼", "트랩"),
    "country": ("컨트리",),
    "funk": ("펑키",),
    "progressive rock": ("프로그레시브", "프록"),
    "r&b": ("알앤비", "알엔비"),
    "house": ("하우스",),
    "techno": ("테크노",),
    "classical": ("클래식", "오케스트라", "교향곡"),
    "opera": ("오페라", "아리아"),
    "new age": ("뉴에이지", "뉴 에이지"),
    "indian": ("인도 음악",),
    "easy listening": ("이지 리스닝",),
    "oldies": ("올디스", "옛날 노래", "옛노래", "추억의 노래", "올드팝"),
    "guitar": ("기타", "일렉 기타", "전자 기타", "베이스 기타"),
    "strings": ("현악", "현악기", "스트링", "스트링스"),
    "drums": ("드럼", "타악기"),
    "piano": ("피아노",),
    "violin": ("바이올린",),
    "synth": ("신스", "신시사이저", "신디사이저", "신디"),
    "harpsichord": ("하프시코드", "쳄발로"),
    "flute": ("플루트", "플룻"),
    "sitar": ("시타르",),
    "harp": ("하프",),
    "cello": ("첼로",),
    "beat": ("비트",),
    "acoustic": ("어쿠스틱", "언플러그드"),
    "choir": ("합창", "성가대", "콰이어"),
    "vocals": ("보컬", "목소리", "가사", "아카펠라"),
    "female vocals": ("여자 보컬", "여성 보컬", "여자 목소리", "여성 목소리", "여자 가수", "여성 가수", "여가수"),
    "male vocals": ("남자 보컬", "남성 보컬", "남자 목소리", "남성 목소리", "남자 가수", "남성 가수", "남가수"),
    "instrumental": ("연주곡", "경음악", "인스트", "인스트루멘탈", "노보컬", "논보컬"),
    "beautiful": ("아름다운", "아름답고", "아름다운데"),
    "mellow": ("잔잔한", "잔잔하게", "잔잔하고", "잔잔", "차분한", "차분하게", "차분하고", "편안한", "편안하게"),
    "chill": ("칠한", "칠하게", "칠하고", "칠아웃", "로파이"),
    "party": ("파티",),
    "sexy": ("섹시한", "섹시하게", "섹시"),
    "catchy": ("중독성", "캐치한"),
    "sad": ("슬픈", "슬프고", "슬프게", "슬퍼", "우울한", "우울하고", "우울", "애절한", "애절하고"),
    "happy": ("신나는", "신나게", "신난", "행복한", "행복하게", "밝은", "경쾌한", "경쾌하게"),
    "weird": ("이상한", "독특한", "특이한"),
    "soft": ("부드러운", "부드럽게"),
    "quiet": ("조용한", "조용하게", "조용하고"),
    "loud": ("시끄러운", "시끄럽게"),
    "slow": ("느린", "느리게", "느리고", "느릿한", "느긋한"),
    "fast": ("빠른", "빠르게", "빠르고", "빠른템포"),
    "2000s": ("2000 년대", "00 년대"),
    "90s": ("90 년대",),
    "80s": ("80 년대",),
    "70s": ("70 년대",),
    "60s": ("60 년대",),
}

#: Korean phrases that stand for two tags at once.
_KO_PAIRS: dict[str, tuple[str, ...]] = {
    "통기타": ("guitar", "acoustic"), "어쿠스틱 기타": ("guitar", "acoustic"),
    "피아노 솔로": ("piano", "solo"), "솔로 피아노": ("piano", "solo"),
    "기타 솔로": ("guitar", "solo"), "바이올린 솔로": ("violin", "solo"), "첼로 솔로": ("cello", "solo"),
}

#: English phrase -> next words that make it something else ("rock bottom", "strings attached").
_EN_NOT_BEFORE: dict[str, frozenset[str]] = {
    "rock": frozenset({"bottom", "solid", "climbing", "climber", "star", "stars", "hard", "steady", "the"}),
    "strings": frozenset({"attached", "of"}),
    "pop": frozenset({"up", "out", "over", "off", "quiz"}),
    "alternative": frozenset({"to", "for", "way", "ways", "route", "plan", "medicine", "facts"}),
    "fast": frozenset({"food", "forward", "asleep", "track", "lane"}),
    "slow": frozenset({"down", "motion", "cooker"}),
    "soft": frozenset({"drink", "drinks", "spot", "skills", "ware", "serve"}),
    "happy": frozenset({"birthday", "hour", "new", "anniversary", "holidays", "thanksgiving"}),
    "harp": frozenset({"on"}),
    "vocal": frozenset({"about", "cords", "critic", "critics", "minority"}),
    "party": frozenset({"member", "members", "leader", "politics", "line"}),
    "trap": frozenset({"door"}),
    "drum": frozenset({"up"}),
    "chill": frozenset({"down", "runs", "ran"}),
    "strange": frozenset({"things"}),
    "country": frozenset({"side", "road", "house", "club"}),
    "prog": frozenset({"report"}),
    "dance": frozenset({"around"}),
}

#: English phrase -> previous words that make it something else ("in a funk", "soap opera", "the country").
_EN_NOT_AFTER: dict[str, frozenset[str]] = {
    "funk": frozenset({"a"}),
    "opera": frozenset({"soap", "space"}),
    "country": frozenset({"the", "a", "this", "that", "my", "our", "your", "whole", "another", "other",
                          "foreign", "every", "which", "what", "each", "home", "new", "own", "entire"}),
    "loud": frozenset({"out"}),
    "alternative": frozenset({"an", "any", "no", "better", "cheaper", "healthy", "healthier"}),
    "rock": frozenset({"solid", "a"}),
    "party": frozenset({"third", "political", "opposition", "guilty", "innocent"}),
    "trap": frozenset({"a", "the", "tourist", "death", "speed"}),
    "strange": frozenset({"stranger"}),
    "fast": frozenset({"break", "stuck", "hold", "held", "asleep"}),
    "rap": frozenset({"bad", "a"}),
}

#: Korean stem -> prefixes of the next word that make it something else (기타 등등: "and so on").
_KO_NOT_BEFORE: dict[str, tuple[str, ...]] = {
    "기타": ("등", "사항", "의견", "문의", "항목", "비용", "소득", "질문", "요청", "지역"),
    "일렉": ("기타",),
}

#: Korean stem -> previous words that make it something else (및 기타: "and others").
_KO_NOT_AFTER: dict[str, frozenset[str]] = {
    "기타": frozenset({"및", "외", "그외", "밖의", "기타"}),
}

#: What may follow a Korean stem: particles, noun suffixes, and the copula; several may stack (락음악은).
_KO_SUFFIXES = (
    "이랑", "랑", "하고", "으로", "로", "이나", "나", "이든", "든", "이며", "에서", "에", "처럼", "같은", "같이",
    "까지", "부터", "보다", "이요", "요", "이야", "야", "이고", "고", "이면", "면", "이에요", "예요", "인", "은",
    "는", "이", "가", "을", "를", "와", "과", "도", "만", "의", "들", "곡", "음악", "노래", "풍", "류", "계열",
    "느낌", "감성", "사운드", "스타일", "장르", "위주", "버전", "쪽", "소리", "연주", "밴드", "적인", "스러운",
    "틱한", "한", "하게", "하고", "한데", "해", "해서", "좀", "만으로", "뿐", "데", "지만", "게",
)
_KO_NEGATORS = ("없", "빼", "뺀", "빠진", "말고", "말구", "말아", "제외", "싫", "아닌", "아니고", "아니라", "아니었",
                "아님", "별로", "안들어", "안나오", "안 들어", "금지")
_KO_REMAINDER = re.compile(
    "^(?:" + "|".join(sorted(map(re.escape, _KO_SUFFIXES), key=len, reverse=True)) + ")*"
    "(?P<neg>(?:" + "|".join(sorted(map(re.escape, _KO_NEGATORS), key=len, reverse=True)) + ")[가-힣]*)?$"
)
_MAX_REMAINDER = 12  # a stem is followed by a few syllables of particles, never a paragraph

#: Korean words that may stand between tag words and a negator they belong to (드럼 들어간 거 말고).
_KO_FILLER = ("소리", "사운드", "음악", "노래", "곡", "거", "것", "들어", "나오", "있는", "위주", "느낌", "스타일",
              "종류", "쪽", "계열", "장르", "좀", "너무", "많이", "많은", "강한", "센", "그리고", "또는", "혹은",
              "이나", "아니면")

_EN_NEGATORS = frozenset({"no", "not", "without", "except", "excluding", "minus", "nor", "avoid", "hate",
                          "hates", "dislike", "skip", "less", "fewer", "zero", "none", "nothing", "never",
                          "dont", "doesnt", "isnt", "cant", "wont", "neither", "nope"})
#: (previous word, word) pairs that negate what follows: "anything but", "instead of", "rather than".
_EN_NEGATOR_PAIRS = frozenset({("anything", "but"), ("everything", "but"), ("instead", "of"),
                               ("rather", "than"), ("other", "than"), ("apart", "from"), ("free", "of")})
#: Words that keep an English negation open ("not too fast", "without any drums", "no heavy guitars").
_EN_SKIP = frozenset({"too", "so", "very", "any", "much", "many", "more", "the", "a", "an", "of", "heavy",
                      "heavily", "lots", "kind", "sort", "real", "obvious", "those", "that", "these", "some",
                      "overly", "super", "want", "like", "need", "having", "have", "music", "songs",
                      "song", "tracks", "track", "stuff", "sounds", "sound", "sounding", "overpowering"})
_EN_LIST = frozenset({",", "or", "and", "nor", "/", "&"})
_EN_POSTFIX_NEGATORS = frozenset({"free"})  # "vocal-free", "drum free"

_TOKEN = re.compile(r"[0-9a-z&]+|[가-힣]+|[^\s0-9a-z&가-힣]")
_HANGUL = re.compile(r"[가-힣]")


@dataclass
class _Hit:
    """Tag words found in the message, and whether a negator took them."""

    tags: tuple[str, ...]
    negated: bool


@dataclass(frozen=True)
class _Phrase:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    korean: bool

    @property
    def key(self) -> tuple[int, int]:
        """Longest first: more words, then a longer first word (클래식록 before 클래식)."""
        return (-len(self.words), -len(self.words[0]))


def _phrases() -> dict[str, list[_Phrase]]:
    """Every phrase, indexed by its first word; Korean spaced phrases also as one joined word."""
    table: dict[str, list[_Phrase]] = {}

    def add(text: str, tags: tuple[str, ...], korean: bool) -> None:
        words = tuple(_TOKEN.findall(_normalise(text)))
        variants = [words, (("".join(words),) if korean and len(words) > 1 else None)]
        for variant in variants:
            if variant:
                table.setdefault(variant[0], []).append(_Phrase(variant, tags, korean))

    for tag, texts in _EN.items():
        for text in texts:
            add(text, (tag,), False)
    for text, tags in _EN_PAIRS.items():
        add(text, tags, False)
    for tag, texts in _KO.items():
        for text in texts:
            add(text, (tag,), True)
    for text, tags in _KO_PAIRS.items():
        add(text, tags, True)
    for entries in table.values():
        entries.sort(key=lambda p: p.key)
    return table


def _normalise(text: str) -> str:
    """Lower case, compatibility forms folded, hyphens to spaces ("hip-hop"), apostrophes dropped ("80's")."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"['’`]", "", text.replace("-", " ").replace("‐", " "))


_TABLE = _phrases()
_MAX_STEM = max(len(first) for first in _TABLE)


def _korean_match(stem: str, token: str) -> tuple[bool, bool]:
    """Whether `token` is `stem` plus particles/suffixes, and whether a negator is attached (드럼없는)."""
    if not token.startswith(stem):
        return False, False
    rest = token[len(stem):]
    if len(rest) > _MAX_REMAINDER:
        return False, False
    found = _KO_REMAINDER.match(rest)
    if found is None:
        return False, False
    return True, found.group("neg") is not None


def _match_at(tokens: list[str], i: int) -> tuple[_Phrase, int, bool] | None:
    """The longest phrase starting at token `i`: (phrase, tokens used, negator attached to its last word)."""
    token = tokens[i]
    if _HANGUL.match(token):
        firsts = [token[:n] for n in range(min(len(token), _MAX_STEM), 0, -1)]
    else:
        firsts = [token]
    candidates = sorted((p for first in firsts for p in _TABLE.get(first, ())), key=lambda p: p.key)
    for phrase in candidates:
        n = len(phrase.words)
        if i + n > len(tokens):
            continue
        negated = False
        for word, tok in zip(phrase.words, tokens[i:i + n]):
            if phrase.korean and _HANGUL.match(word):
                ok, negated = _korean_match(word, tok)
            else:
                ok, negated = word == tok, False
            if not ok:
                break
        else:
            if _context_allows(phrase, tokens, i, n):
                return phrase, n, negated
    return None


def _context_allows(phrase: _Phrase, tokens: list[str], i: int, n: int) -> bool:
    """False where the words around a phrase make it mean something else ("rock bottom", "기타 등등")."""
    before = tokens[i - 1] if i > 0 else ""
    after = tokens[i + n] if i + n < len(tokens) else ""
    text = " ".join(phrase.words)
    if phrase.korean:
        if before in _KO_NOT_AFTER.get(text, ()):
            return False
        bare = tokens[i + n - 1] == phrase.words[-1]  # 기타 등: only the bare word means "other"
        return not (bare and after and any(after.startswith(p) for p in _KO_NOT_BEFORE.get(text, ())))
    return after not in _EN_NOT_BEFORE.get(text, ()) and before not in _EN_NOT_AFTER.get(text, ())


def _negate(hits: Iterable[_Hit]) -> None:
    for hit in hits:
        hit.negated = True


def _unique(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words))


def parse_tags(text: object) -> TagQuery:
    """The tag words of a message, asked for and asked away; an empty query for text with none (or no text).

    >>> parse_tags("something chill with piano, no vocals")
    TagQuery(include=('chill', 'piano', 'instrumental'), exclude=('vocals',))
    """
    if not isinstance(text, str) or not text:
        return TagQuery()
    tokens = _TOKEN.findall(_normalise(text[:MAX_CHARS]))
    hits: list[_Hit] = []
    en_state = ""  # "", "pending" (negator seen), "active" (negator and at least one tag word seen)
    run: list[_Hit] = []  # tag hits since the last plain word: what a Korean negator after them negates
    i = 0
    while i < len(tokens):
        token = tokens[i]
        prev = tokens[i - 1] if i > 0 else ""
        found = _match_at(tokens, i)
        if found is not None:
            phrase, used, attached_negator = found
            hit = _Hit(phrase.tags, bool(en_state))
            hits.append(hit)
            run.append(hit)
            if en_state:
                en_state = "active"
            if attached_negator:
                _negate(run)
                run = []
            i += used
            continue
        korean = bool(_HANGUL.match(token))
        if korean and run and (token in ("안", "노") or any(token.startswith(n) for n in _KO_NEGATORS)):
            _negate(run)
            run = []
        elif (token in _EN_POSTFIX_NEGATORS and run and prev and not _HANGUL.match(prev)
              and tokens[i + 1: i + 2] != ["of"]):  # "jazz free of drums" negates what follows
            _negate(run[-1:])
            run = []
        elif token in _EN_NEGATORS or (prev, token) in _EN_NEGATOR_PAIRS:
            en_state, run = "pending", []
        elif token in _EN_LIST:
            if en_state == "pending" and token == ",":
                en_state = ""  # "no, play some jazz": the "no" answered something else
        elif not (token in _EN_SKIP or (korean and any(token.startswith(f) for f in _KO_FILLER))):
            en_state, run = "", []  # a plain word ends a negation and a run of tag words
        i += 1
    include = _unique(t for hit in hits if not hit.negated for t in hit.tags)
    exclude = _unique(t for hit in hits if hit.negated for t in hit.tags)
    if "vocals" in exclude and "instrumental" not in exclude:
        include += ("instrumental",)
    if "instrumental" in exclude and "vocals" not in exclude:
        include += ("vocals",)
    include = tuple(t for t in _unique(include) if t not in exclude)
    return TagQuery(include=include, exclude=exclude)
