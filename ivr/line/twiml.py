"""Pure TwiML building and call stepping: plain values in, TwiML text or a next step out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from ..flow import Flow, Node
from ..flow.languages import Lookup, offered_languages
from ..flow.queries import default_choice, menu_options
from ..flow.speech import hints, speech_language

KEYS = "0123456789*#"
# Dial outcomes Twilio reports in DialCallStatus; anything but "completed" means nobody talked.
DIAL_ANSWERED = "completed"


class AudioLookup(Protocol):
    """Where a prompt's fresh audio is: an absolute URL, or None to use <Say>."""

    def __call__(self, prompt_id: str, lang: str, slow: bool) -> str | None:
        """Return the URL of a prompt's fresh audio, or None."""

    def cache_key(self) -> str:
        """Return what the URLs depend on (their base URL): documents are cached per key."""


# How much slower <Say> speaks for a caller who asked for slower speech (SSML prosody rate).
SLOW_RATE = "80%"


@dataclass(frozen=True)
class State:
    """Where a call is, carried in the action URL's query string: no server-side session."""

    node: str
    lang: str
    silences: int = 0
    invalid: int = 0
    slow: bool = False

    def query(self) -> str:
        """Encode the state for an action URL."""
        values: dict[str, object] = {
            "node": self.node,
            "lang": self.lang,
            "s": self.silences,
            "i": self.invalid,
        }
        if self.slow:
            values["slow"] = 1
        return urlencode(values)


@dataclass(frozen=True)
class Step:
    """What to play next: a node, notices spoken first, and the counters it carries."""

    node: str
    notices: tuple[str, ...] = ()
    silences: int = 0
    invalid: int = 0
    reprompt: bool = False
    event: str = "entered"
    lang: str | None = None  # a language the caller just chose; None keeps the call's language
    slow: bool | None = None  # slower speech switched on or off; None keeps it as it was


def parse_key(digits: str | None) -> str:
    """Return the one key a caller pressed, '' for none, '?' for anything that is not a key."""
    if not digits:
        return ""
    digits = digits.strip()
    if not digits:
        return ""
    return digits if len(digits) == 1 and digits in KEYS else "?"


def step(flow: Flow, state: State, key: str, offered: tuple[str, ...] = ()) -> Step:
    """Decide where a key (or '' for silence) at a node leads; never raises for any input."""
    # `offered` is what callers are offered now (Renderer.offered): with fewer than two languages
    # there is nothing to choose, and the language menu is passed by in the default language.
    result = _step(flow, state, key, offered)
    target = flow.nodes.get(result.node)
    if target is not None and target.kind == "language" and len(offered) < 2:
        # Only one language is offered: there is nothing to choose, go straight on in it.
        return Step(
            default_choice(flow, target), result.notices, event=result.event, lang=flow.default_language
        )
    return result


def _step(flow: Flow, state: State, key: str, offered: tuple[str, ...]) -> Step:
    node = flow.nodes.get(state.node)
    if node is None:
        return Step(flow.start, event="unknown_node")
    if node.kind == "language" and len(offered) < 2 and key:
        # Nothing to choose: a key pressed here is meant for what follows the default language.
        return _step(
            flow, State(default_choice(flow, node), flow.default_language, slow=state.slow), key, offered
        )
    if node.kind == "language" and key not in flow.global_keys:
        return _language_step(flow, node, state, key, offered)
    if node.next and key == "":
        return Step(node.next)
    if key == "":
        silences = state.silences + 1
        if silences >= flow.limits.silences:
            return Step(flow.on_limit, event="silence_limit")
        last = silences == flow.limits.silences - 1
        notice = flow.system_prompts["silence_last" if last else "silence"]
        return Step(node.id, (notice,), silences, state.invalid, reprompt=True, event="silence")
    global_key = flow.global_keys.get(key)
    if global_key is not None:
        if global_key.action == "goto" and global_key.node:
            return Step(global_key.node, event="key")
        if global_key.action == "back":
            return Step(flow.back_of(node.id), event="key")
        if global_key.action == "slow":
            notice = flow.system_prompts.get("slow_off" if state.slow else "slow_on", "")
            return Step(node.id, (notice,) if notice else (), event="slow", slow=not state.slow)
        return Step(node.id, event="key")
    if node.next:
        # A key pressed during a message that goes straight on is meant for the next menu.
        return step(flow, State(node.next, state.lang, slow=state.slow), key, offered)
    option = node.option(key)
    if option is not None:
        return Step(option.goto, event="key")
    invalid = state.invalid + 1
    if invalid >= flow.limits.invalid_keys:
        return Step(flow.on_limit, event="invalid_limit")
    return Step(
        node.id, (flow.system_prompts["invalid"],), state.silences, invalid, reprompt=True, event="invalid"
    )


def _language_step(flow: Flow, node: Node, state: State, key: str, offered: tuple[str, ...]) -> Step:
    """Choose a language by its key; pressing nothing chooses the default language."""
    if key == "":
        return Step(default_choice(flow, node), event="language", lang=flow.default_language)
    option = node.option(key)
    if option is not None and option.lang in offered:
        return Step(option.goto, event="language", lang=option.lang)
    invalid = state.invalid + 1
    if invalid >= flow.limits.invalid_keys:
        return Step(flow.on_limit, event="invalid_limit")
    return Step(
        node.id, (flow.system_prompts["invalid"],), state.silences, invalid, reprompt=True, event="invalid"
    )


def dial_step(flow: Flow, state: State, status: str | None) -> Step:
    """Decide where a transfer goes after Twilio reports the Dial's outcome."""
    node = flow.nodes.get(state.node)
    if node is None or node.kind != "transfer":
        return Step(flow.start, event="unknown_node")
    if (status or "").strip().lower() == DIAL_ANSWERED:
        return Step(node.on_answered or flow.on_limit, event="transfer_answered")
    return Step(node.on_failed or flow.start, node.failed_say, event="transfer_failed")


class Renderer:
    """Build TwiML for a flow. Everything here is derived from the flow and its audio only,
    so documents are built once and kept."""

    def __init__(
        self,
        flow: Flow,
        base: str = "/voice",
        audio: AudioLookup | None = None,
        present: Lookup | None = None,
    ) -> None:
        self.flow = flow
        self.base = base
        self.audio = audio
        # Which languages callers are offered depends on the audio too: rebuilt with the renderer.
        # `present` answers "is there fresh audio?" outside a request too (`audio` makes URLs).
        self.offered = offered_languages(flow, present or audio)
        self._cache: dict[tuple[object, ...], str] = {}

    def render(self, step: Step, lang: str, caller_id: str | None = None, slow: bool = False) -> str:
        """Return the TwiML document for a step."""
        key: tuple[object, ...] = (
            step.node,
            step.notices,
            step.silences,
            step.invalid,
            step.reprompt,
            lang,
            caller_id,
            slow,
        )
        if self.audio is not None:
            # Audio URLs are absolute: documents differ by the base URL they were built for.
            key += (self.audio.cache_key(),)
        cached = self._cache.get(key)
        if cached is None:
            cached = str(self._build(step, lang, caller_id, slow))
            if len(self._cache) < 20_000:
                self._cache[key] = cached
        return cached

    def safe(self, lang: str) -> str:
        """Return the TwiML played when anything goes wrong: 999 advice, Refuge, an offer to connect."""
        flow = self.flow
        lang = lang if lang in flow.catalogue.languages else flow.default_language
        response = VoiceResponse()
        menu = flow.nodes[flow.start].next or flow.start
        if flow.nodes[menu].kind == "language":
            menu = default_choice(flow, flow.nodes[menu])
        gather = self._gather(response, State(menu, lang), flow.limits.gather_timeout)
        for pid in flow.safe_say:
            self.speak(gather, pid, lang)
        response.redirect(f"{self.base}/gather?{State(menu, lang).query()}", method="POST")
        return str(response)

    def speak(self, verb: VoiceResponse | Gather, prompt_id: str, lang: str, slow: bool = False) -> None:
        """Add one prompt: its fresh audio if there is some, else <Say> with the language's voice."""
        url = None
        if self.audio:
            # Slow audio first when asked for; a recording at normal pace beats no voice at all.
            url = self.audio(prompt_id, lang, slow) or (self.audio(prompt_id, lang, False) if slow else None)
        if url:
            verb.play(url)
            return
        voice = self.flow.voices.get(lang)
        text = self.flow.catalogue.text(prompt_id, lang)
        say_voice = voice.say_voice if voice else None
        if slow and say_voice and say_voice.startswith(("Polly.", "Google.")):
            say = verb.say(voice=say_voice, language=voice.say_language if voice else None)
            say.prosody(text, rate=SLOW_RATE)
            return
        verb.say(text, voice=say_voice, language=voice.say_language if voice else None)

    def _gather(
        self, response: VoiceResponse, state: State, timeout: int, node: Node | None = None
    ) -> Gather:
        # Spoken answers are an extra, where the language has recognition: the keypad works the same.
        speech = speech_language(self.flow, node, state.lang) if node else None
        return response.gather(
            input="dtmf speech" if speech else "dtmf",
            action=f"{self.base}/gather?{state.query()}",
            method="POST",
            num_digits=1,
            finish_on_key="",
            timeout=timeout,
            action_on_empty_result=True,
            language=speech,
            hints=(hints(self.flow, node, state.lang, self.offered) or None) if speech and node else None,
            speech_timeout="auto" if speech else None,
        )

    def _build(self, step: Step, lang: str, caller_id: str | None, slow: bool = False) -> VoiceResponse:
        flow = self.flow
        node = flow.nodes[step.node]
        response = VoiceResponse()
        state = State(node.id, lang, step.silences, step.invalid, slow)
        if node.kind == "language":
            gather = self._gather(response, state, flow.limits.gather_timeout, node)
            for pid in step.notices + node.say:
                self.speak(gather, pid, lang, slow)
            # Each language is offered in its own words and voice.
            for _, code, pid in menu_options(node, self.offered):
                self.speak(gather, pid, code, slow)
            response.redirect(f"{self.base}/gather?{state.query()}", method="POST")
        elif node.kind in ("menu", "message"):
            timeout = flow.limits.pass_timeout if node.next else flow.limits.gather_timeout
            gather = self._gather(response, state, timeout, node)
            for pid in step.notices + self._body(node, step.reprompt):
                self.speak(gather, pid, lang, slow)
            # Reached only if a platform ignores actionOnEmptyResult: same request as silence.
            response.redirect(f"{self.base}/gather?{state.query()}", method="POST")
        elif node.kind == "transfer":
            for pid in step.notices + node.say:
                self.speak(response, pid, lang, slow)
            contact = flow.contacts[node.contact or ""]
            dial = response.dial(
                action=f"{self.base}/dial?{state.query()}",
                method="POST",
                timeout=flow.limits.dial_timeout,
                caller_id=caller_id or None,
                answer_on_bridge=True,
            )
            dial.number(contact.e164)
        else:
            for pid in step.notices + node.say:
                self.speak(response, pid, lang, slow)
            response.hangup()
        return response

    @staticmethod
    def _body(node: Node, reprompt: bool) -> tuple[str, ...]:
        options = tuple(o.say for o in node.options)
        # After a wrong key or a silence, a long message is not read again: only its choices.
        if reprompt and node.kind == "message" and options:
            return options
        return node.say + options
