"""What the emulator's tasks and schedules share: records of an owner, kept by ID, by owner and
by (owner ID, name), addressed as the API addresses them (an ID, ``username~name`` or
``~name``), listed in pages, and stamped with a ``modifiedAt`` that moves strictly forward.

The stores keep the JSON objects the API returns; a subclass says what its records are called
in a 404 (``kind``), what a list item holds (``_short``), and how records are made and changed.
Every method that reads or writes runs under the core's lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from tasksync.emulator.core import JSON, Core, iso
from tasksync.emulator.errors import RecordNotFound
from tasksync.emulator.users import DEFAULT_USERNAME, User, Users

MAX_PAGE = 1000

Record = dict[str, JSON]


class Records:
    """Every record, by ID, by owner, and by (owner ID, name)."""

    kind = "Record"
    """The record's name in a 404 (``RecordNotFound``)."""

    def __init__(self, core: Core, users: Users) -> None:
        self._core = core
        self._users = users
        self.clear()

    def clear(self) -> None:
        self._by_id: dict[str, Record] = {}
        self._by_user: dict[str, dict[str, Record]] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._mtimes: dict[str, int] = {}

    def __iter__(self) -> Iterator[Record]:
        """Every stored record, oldest first."""
        return iter(list(self._by_id.values()))

    def of(self, user: User) -> list[Record]:
        """``user``'s stored records, oldest first."""
        return list(self._by_user.get(user.id, {}).values())

    # -- lookups -------------------------------------------------------------------------------

    def resolve(self, ref: str, user: User | None) -> Record:
        """The stored record for an ID, ``username~name`` or ``~name`` that ``user`` may see.

        ``user`` is None for the Python API: every record is visible and ``~name`` means the
        default user's.
        """
        found: Record | None
        if "~" in ref:
            owner_name, _, name = ref.partition("~")
            if owner_name:
                owner = self._users.find(owner_name)
            else:
                owner = user or self._users.find(DEFAULT_USERNAME)
            record_id = self._by_name.get((owner.id, name)) if owner is not None else None
            found = self._by_id.get(record_id) if record_id is not None else None
        else:
            found = self._by_id.get(ref)
        if found is None or (user is not None and found["userId"] != user.id):
            raise RecordNotFound(self.kind)
        return found

    def find(self, ref: str, user: User | None = None) -> Record | None:
        """``resolve``, but None instead of a 404."""
        with self._core.lock:
            try:
                return self.resolve(ref, user)
            except RecordNotFound:
                return None

    def page(self, user: User, *, offset: int = 0, limit: int = 0, desc: bool = False) -> JSON:
        """A page of ``user``'s records as a list endpoint returns it (``_short`` items)."""
        limit = MAX_PAGE if limit <= 0 else min(limit, MAX_PAGE)
        with self._core.lock:
            own = self._by_user.get(user.id, {})
            ordered = reversed(own.values()) if desc else iter(own.values())
            items = [self._short(r) for r in islice(ordered, offset, offset + limit)]
            total = len(own)
        return {
            "total": total,
            "offset": offset,
            "limit": limit,
            "count": len(items),
            "desc": desc,
            "items": items,
        }

    def _short(self, record: Record) -> Record:
        raise NotImplementedError

    # -- keeping the indexes -------------------------------------------------------------------

    def _add(self, record: Record, now_ms: int) -> None:
        self._by_id[record["id"]] = record
        self._by_user.setdefault(record["userId"], {})[record["id"]] = record
        self._by_name[(record["userId"], record["name"])] = record["id"]
        self._mtimes[record["id"]] = now_ms

    def _rename(self, record: Record, name: str) -> None:
        del self._by_name[(record["userId"], record["name"])]
        self._by_name[(record["userId"], name)] = record["id"]

    def _remove(self, ref: str, user: User) -> None:
        with self._core.lock:
            record = self.resolve(ref, user)
            del self._by_id[record["id"]]
            del self._by_user[record["userId"]][record["id"]]
            del self._by_name[(record["userId"], record["name"])]
            del self._mtimes[record["id"]]

    def _touch(self, record: Record) -> None:
        """Move ``modifiedAt``: strictly later than the record's last write, even within one
        millisecond."""
        ms = max(self._core.now_ms(), self._mtimes[record["id"]] + 1)
        self._mtimes[record["id"]] = ms
        record["modifiedAt"] = iso(ms)

    def _free_name(self, user: User, base: str) -> str:
        """``base``, or ``base-2``, ``base-3``... : the first name ``user`` does not have."""
        name, n = base, 1
        while (user.id, name) in self._by_name:
            n += 1
            name = f"{base}-{n}"
        return name
