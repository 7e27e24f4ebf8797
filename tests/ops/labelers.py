"""Labelers over real HTTP: each thread takes the next image and labels it, flat out."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx2 as httpx

from tests.conftest import PASSWORD


@dataclass(frozen=True)
class Ack:
    """An annotation the server acknowledged with 201."""

    annotation_id: int
    image_id: int
    category_id: int | None
    rejected: bool
    sent: float  # time.monotonic() when the request left
    acked: float  # ... and when its 201 came back


@dataclass
class Crew:
    base: str
    pid: int
    categories: list[int]
    usernames: list[str]
    acks: list[Ack] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for number, name in enumerate(self.usernames):
            thread = threading.Thread(target=self._label, args=(name, number), daemon=True)
            thread.start()
            self._threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self._threads), "a labeler hangs"

    def count(self) -> int:
        with self._lock:
            return len(self.acks)

    def _label(self, username: str, number: int) -> None:
        rng = random.Random(number)
        try:
            with httpx.Client(base_url=self.base, timeout=30) as client:
                token = client.post(
                    "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
                )
                token.raise_for_status()
                client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
                while not self.stop.is_set():
                    if not self._decide(client, rng):
                        return
        except Exception as exc:  # reported by the test, not lost in a thread
            with self._lock:
                self.failures.append(f"{username}: {exc!r}")

    def _decide(self, client: httpx.Client, rng: random.Random) -> bool:
        nxt = client.get(f"/api/v1/projects/{self.pid}/queue/next")
        if nxt.status_code == 204:
            return False  # nothing left to label
        nxt.raise_for_status()
        image_id = int(nxt.json()["image_id"])
        body: dict[str, object]
        if rng.random() < 0.1:
            body = {"rejected": True, "reason": f"not a flower {uuid.uuid4().hex[:6]}"}
        else:
            body = {"category_id": rng.choice(self.categories)}
        sent = time.monotonic()
        resp = client.post(
            f"/api/v1/images/{image_id}/annotations",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        acked = time.monotonic()
        if resp.status_code != 201:
            with self._lock:
                self.failures.append(f"annotation answered {resp.status_code}: {resp.text}")
            return True
        made = resp.json()
        ack = Ack(
            int(made["id"]),
            image_id,
            made.get("category_id"),
            bool(made.get("rejected")),
            sent,
            acked,
        )
        with self._lock:
            self.acks.append(ack)
        return True
