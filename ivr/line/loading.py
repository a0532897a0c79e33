"""Loading a flow for the line without weighing on the calls being answered.

`load_apart` loads and validates a prompts folder and, when it passes, keeps its files as the
last good flow. Large folders are judged in a child process (`python -c ... child()`): the
parsing and the rules cost seconds of CPU and a memory peak on a big flow, and there they take
neither this process's memory nor its interpreter lock. The child sends back the valid flow,
or only the problems, pickled, with what it logged, and keeps the flow's files after sending it;
the flow is rebuilt here in small steps so that the threads answering calls keep their turns.
Should the child fail to run, the folder is judged in this process, as small folders always are.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..checks import load
from ..flow import Flow, Problem
from ..pauses import beside_calls
from . import snapshot

log = logging.getLogger(__name__)

# Prompt files larger than this together are judged in a child process: the shipped flow with its
# eight catalogues is about 100 KB and loads in a few tens of milliseconds, a 10,000-node flow is
# about 3.7 MB and takes seconds.
APART_BYTES = 256 * 1024
CHILD_SECONDS = 300.0  # a child slower than this is given up, and the folder judged here
# The folder that holds the `ivr` package: the child imports this very copy of it.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
CHILD_CODE = "from ivr.line.loading import child; child()"
LARGE_NODES = 1000  # a flow with this many nodes or more is built `beside_calls`


@dataclass(frozen=True)
class Judged:
    """A prompts folder judged: its flow when it may serve (None otherwise), and every problem."""

    flow: Flow | None
    problems: list[Problem]


def load_apart(prompts_dir: Path, keep_in: Path | None = None) -> Judged:
    """Load and validate a prompts folder; keep a valid flow's files in `keep_in` as the last good flow.

    Large folders are judged in a child process (see the module's docstring); the answer is the same.
    """
    if sys.executable and folder_bytes(prompts_dir) > APART_BYTES:  # an interpreter to start the child with
        try:
            return _in_child(prompts_dir, keep_in)
        except (OSError, subprocess.SubprocessError, ChildFailed) as exc:
            log.warning("judging %s in a child process failed (%s); judging it here", prompts_dir, exc)
    return judge(prompts_dir, keep_in)


def judge(prompts_dir: Path, keep_in: Path | None = None) -> Judged:
    """Load and validate a prompts folder in this process; keep a valid flow's files in `keep_in`."""
    flow, problems = load(prompts_dir)
    if flow is None or problems:
        return Judged(None, problems or [Problem(str(prompts_dir), None, None, "no flow")])
    if keep_in is not None:
        snapshot.save(keep_in, flow)
    return Judged(flow, [])


def folder_bytes(prompts_dir: Path) -> int:
    """Return the size of a prompts folder's YAML files together (0 if it cannot be read)."""
    try:
        return sum(f.stat().st_size for f in prompts_dir.glob("*.yaml"))
    except OSError:
        return 0


class ChildFailed(Exception):
    """The child process judging a folder ended without an answer."""


def _in_child(prompts_dir: Path, keep_in: Path | None) -> Judged:
    """Have a child process judge the folder; return its answer as soon as it is sent. The child then
    keeps a valid flow's files, and a thread waits for it (relaying what it logs meanwhile)."""
    env = dict(os.environ)
    # The child writes no metrics: under gunicorn, files it left in the shared folder would be summed.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-c", CHILD_CODE, str(prompts_dir), str(keep_in or "")]
    said = tempfile.TemporaryFile()  # the child's stderr: read only if it fails
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=said, env=env
        )
    except BaseException:
        said.close()
        raise
    limit = threading.Timer(CHILD_SECONDS, process.kill)
    limit.daemon = True
    limit.start()
    try:
        judged = _answer(process, said)
    except BaseException:
        process.kill()
        _finish(process, limit, said)
        raise
    threading.Thread(target=_finish, args=(process, limit, said), name="ivr-flow-keeper", daemon=True).start()
    return judged


def _answer(process: subprocess.Popen[bytes], said: IO[bytes]) -> Judged:
    """Read the child's answer and log what it logged while judging."""
    assert process.stdout is not None  # noqa: S101 - opened with a pipe just above
    answer = _message(process.stdout)
    if answer is None:
        process.wait()
        said.seek(0)
        tail = said.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ChildFailed(f"exit status {process.returncode}: {' / '.join(tail) or 'nothing said'}")
    try:
        judged, records = _unpickle(answer)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is a failed child, judged here again
        raise ChildFailed(f"its answer could not be read: {type(exc).__name__}: {exc}") from exc
    if not isinstance(judged, Judged):
        raise ChildFailed(f"it answered {type(judged).__name__}, not a judged flow")
    _relay(records)
    return judged


def _finish(process: subprocess.Popen[bytes], limit: threading.Timer, said: IO[bytes]) -> None:
    """Log what the child logs while it keeps the flow, and wait for it to end."""
    try:
        assert process.stdout is not None  # noqa: S101 - opened with a pipe
        late = _message(process.stdout)
        if late is not None:
            _relay(pickle.loads(late))  # noqa: S301 - written by our own child process
        process.wait()
    except Exception:  # noqa: BLE001 - the flow is served already; only its kept copy may be missing
        log.exception("the child process keeping a flow as the last good one failed")
        process.kill()
        process.wait()
    finally:
        limit.cancel()
        if process.stdout is not None:
            process.stdout.close()
        said.close()


def _message(stream: IO[bytes]) -> bytes | None:
    """Read one message (its length in 8 bytes, then its bytes); None if the stream ends first."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    body = stream.read(int.from_bytes(head, "big"))
    return body if len(body) == int.from_bytes(head, "big") else None


def _send(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "big") + data)
    stream.flush()


def _relay(records: list[tuple[str, int, str]]) -> None:
    """Log here what the child logged."""
    for name, level, message in records:
        logging.getLogger(name).log(level, "%s", message)


class _Frames(io.RawIOBase):
    """Bytes handed to the unpickler by Python code, a frame at a time: between two frames the
    interpreter may switch threads, so that no thread waits for the whole flow to be rebuilt."""

    def __init__(self, data: bytes) -> None:
        self._raw = data
        self._data = memoryview(data)
        self._at = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk = bytes(self._data[self._at : end])
        self._at += len(chunk)
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def readline(self, size: int | None = -1) -> bytes:
        end = self._raw.find(b"\n", self._at)
        end = len(self._data) if end < 0 else end + 1
        if size is not None and size >= 0:
            end = min(end, self._at + size)
        return self.read(end - self._at)


def _unpickle(data: bytes) -> tuple[Judged, list[tuple[str, int, str]]]:
    """Rebuild the child's answer."""
    with beside_calls():
        answer = pickle.load(_Frames(data))  # noqa: S301 - written by our own child process, just now
    return answer  # type: ignore[no-any-return]


class _Kept(logging.Handler):
    """What the child logs, kept to be logged again by the process that asked."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append((record.name, record.levelno, message))


def child() -> None:
    """Judge the folder named in argv[1]; send the answer on stdout; then keep a valid flow's files
    in argv[2] if given, and send what was logged meanwhile.

    Only these two messages go to stdout: anything else printed goes to stderr.
    """
    # Below the workers answering calls: on a machine with few cores, they come first.
    os.nice(10)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    kept = _Kept()
    root = logging.getLogger()
    root.addHandler(kept)
    root.setLevel(logging.INFO)
    prompts_dir, keep_in = Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else ""
    judged = judge(prompts_dir)
    with out:
        _send(out, (judged, kept.records))
        kept.records = []
        if judged.flow is not None and keep_in:
            snapshot.save(Path(keep_in), judged.flow)
        _send(out, kept.records)
