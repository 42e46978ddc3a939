"""The shadow challenger's own process: it decides batches of features with the challenger
and hands the decisions back, so the challenger's work never waits in, or holds up, the
answering worker's engine (its polars threads serve the answers alone).

A worker starts one (`ChallengerProcess`) with the challenger's model and rule-set paths.
Messages on the child's stdin and stdout are frames of Arrow IPC, each behind an 8-byte
length: features in, decisions out (with the sentences). Its first message is the JSON of
its versions, which the worker checks against the challenger it loaded itself. The child
runs niced, and ends when its stdin closes. Nothing is pickled.

    python -m api.shadow_child MODEL RULES
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import polars as pl

from underwriting.engine import Engine
from underwriting.io.artifacts import load_model
from underwriting.io.rule_sets import load_rule_set

NICENESS = 10
_LENGTH = struct.Struct(">Q")


class ChildFailed(RuntimeError):
    """The challenger's process ended or answered with an error."""


def _send(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream: BinaryIO) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    payload = stream.read(length)
    if len(payload) < length:
        return None
    return payload


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()


class ChallengerProcess:
    """A running child process deciding with the challenger (see the module's docstring)."""

    def __init__(self, model: Path, rules: Path, versions: tuple[str, str]) -> None:
        self._command = [sys.executable, "-m", "api.shadow_child", str(model), str(rules)]
        self._versions = versions
        self._process: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None
        )
        assert process.stdout is not None
        hello = _receive(process.stdout)  # type: ignore[arg-type]
        found = json.loads(hello) if hello else None
        wanted = {"model_version": self._versions[0], "rule_set_version": self._versions[1]}
        if found != wanted:
            _end(process)
            raise ChildFailed(f"the challenger's process loaded {found}, not {wanted}")
        return process

    def decide(self, features: pl.DataFrame) -> pl.DataFrame:
        """The challenger's decisions of `features`, from the child (started, or started
        again after it ended, as needed)."""
        if self._process is None or self._process.poll() is not None:
            if self._process is not None:
                _end(self._process)  # it ended: start it again
            self._process = self._start()
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            _send(stdin, _ipc(features))  # type: ignore[arg-type]
            answer = _receive(stdout)  # type: ignore[arg-type]
        except OSError as error:
            raise ChildFailed(f"the challenger's process is gone: {error}") from None
        if answer is None:
            raise ChildFailed("the challenger's process ended")
        if answer[:1] == b"E":
            raise ChildFailed(answer[1:].decode(errors="replace"))
        return pl.read_ipc(io.BytesIO(answer[1:]))

    def close(self) -> None:
        """End the child (its stdin closes; it exits)."""
        if self._process is not None:
            _end(self._process)
            self._process = None


def _end(process: subprocess.Popen[bytes]) -> None:
    """Close a child's stdin (it exits), wait for it (or kill it), close its stdout."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def main(argv: list[str]) -> int:
    """The child: load the challenger, say its versions, then decide each batch sent."""
    model, rules = Path(argv[0]), Path(argv[1])
    os.nice(NICENESS)
    engine = Engine(load_model(model), load_rule_set(rules))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    versions = {"model_version": engine.model.version, "rule_set_version": engine.rules.version}
    _send(stdout, json.dumps(versions).encode())
    while (message := _receive(stdin)) is not None:
        try:
            decided = engine.decide_frame(pl.read_ipc(io.BytesIO(message)))
            _send(stdout, b"D" + _ipc(decided))
        except Exception as error:
            _send(stdout, b"E" + f"{type(error).__name__}: {error}".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
