"""A network from outside datacall, added the way a separate package adds one: a folder of JSON lines.

Citizens' messages are read from `inbox.jsonl` in the configured folder; what datacall
publishes is appended to `outbox.jsonl`. Its package registers it with an entry point:

    [project.entry-points."datacall.networks"]
    toy = "datacall_toy_network:ToyConnector"

and it is then configured as `[networks.toy]`, checked by `ToyConfig`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.config import NetworkConfig
from bot.networks.base import Batch, Connector, Incoming, NetworkError, PostRef, ReplyTarget


class ToyConfig(NetworkConfig):
    folder: str = "toy-network"
    max_length: int = 120
    token_env: str = "DATACALL_TOY_TOKEN"


class ToyConnector(Connector):
    name = "toy"
    config_model = ToyConfig

    def __init__(self, folder: Path, *, max_length: int, token: str):
        self.folder = folder
        self.max_length = max_length
        self.token = token

    @classmethod
    def from_config(cls, settings, environ: Mapping[str, str], *, sessions=None) -> ToyConnector:
        return cls(Path(settings.folder), max_length=settings.max_length, token=environ[settings.token_env])

    def mention(self, handle: str) -> str:
        return f"@{handle.lstrip('@')}" if handle else ""

    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        return self._append(text, in_reply_to=None)

    def fetch(self, cursor: str | None, *, state: dict, watched: Sequence[str] = ()) -> Batch:
        lines = (self.folder / "inbox.jsonl").read_text(encoding="utf-8").splitlines()
        start = int(cursor or 0)
        messages = tuple(
            Incoming(external_id=f"in-{index}", author_id=item["author"], author_handle=f"@{item['author']}",
                     text=item["text"], lang=item.get("lang"))
            for index, item in enumerate((json.loads(line) for line in lines[start:]), start)
        )
        return Batch(messages, str(len(lines)))

    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        body = self.addressed(target.author_handle, text)
        if self.text_length(body) > self.max_length:
            raise NetworkError(f"toy: {self.text_length(body)} characters exceed {self.max_length}", permanent=True)
        return self._append(body, in_reply_to=target.external_id)

    def _append(self, text: str, *, in_reply_to: str | None) -> PostRef:
        outbox = self.folder / "outbox.jsonl"
        count = len(outbox.read_text(encoding="utf-8").splitlines()) if outbox.exists() else 0
        with outbox.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"id": f"out-{count}", "text": text, "in_reply_to": in_reply_to}) + "\n")
        return PostRef(f"out-{count}")
