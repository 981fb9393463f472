"""Locks and the transactions that own them, as HMS's DbTxnManager clients (pyiceberg, Trino) use them.

A lock request is all-or-nothing: it is ACQUIRED when none of its components conflicts with an acquired
lock or with an older waiting one (first come, first served), else WAITING until `check`. Locks whose
holder stopped heartbeating for `lock_timeout_s` are released, so a killed writer cannot block a table
for longer than that.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select, update

from metastore.catalog.base import Area, now_ms
from metastore.catalog.errors import Conflict, InvalidInput, NotFound
from metastore.catalog.types import Lock, LockComponent
from metastore.storage.models import CatalogRow, LockComponentRow, LockRow, TransactionRow, WriteIdRow

LOCK_TYPES = ("SHARED_READ", "SHARED_WRITE", "EXCL_WRITE", "EXCLUSIVE")
LEVELS = ("DB", "TABLE", "PARTITION")
_CONFLICTS = {
    "SHARED_READ": {"EXCLUSIVE"},
    "SHARED_WRITE": {"EXCLUSIVE", "EXCL_WRITE"},
    "EXCL_WRITE": {"EXCLUSIVE", "EXCL_WRITE", "SHARED_WRITE"},
    "EXCLUSIVE": set(LOCK_TYPES),
}


def _overlap(a: LockComponent, b: LockComponent) -> bool:
    if a.db_name != b.db_name:
        return False
    if a.table_name is None or b.table_name is None:
        return True
    if a.table_name != b.table_name:
        return False
    return a.partition_name is None or b.partition_name is None or a.partition_name == b.partition_name


def _conflict(a: LockComponent, b: LockComponent) -> bool:
    return _overlap(a, b) and (b.lock_type in _CONFLICTS[a.lock_type] or a.lock_type in _CONFLICTS[b.lock_type])


class Locks(Area):
    def _serialize(self, conn: Connection) -> None:
        """Lock decisions are made one at a time: hold the row of the default catalog (a no-op on SQLite,
        whose write transactions are already exclusive)."""
        conn.execute(select(CatalogRow.id).where(CatalogRow.name == "hive").with_for_update())

    def _expire(self, conn: Connection) -> None:
        cutoff = now_ms() - self.ctx.lock_timeout_s * 1000
        stale_txns = select(TransactionRow.id).where(TransactionRow.state == "OPEN", TransactionRow.last_heartbeat < cutoff)
        conn.execute(delete(LockRow).where(LockRow.txn_id.in_(stale_txns)))
        conn.execute(update(TransactionRow).where(TransactionRow.id.in_(stale_txns)).values(state="ABORTED"))
        conn.execute(delete(LockRow).where(LockRow.txn_id == 0, LockRow.last_heartbeat < cutoff))

    def _load(self, conn: Connection, ids: list[int] | None = None) -> list[Lock]:
        query = select(LockRow).order_by(LockRow.id)
        if ids is not None:
            query = query.where(LockRow.id.in_(ids))
        locks = {r.id: Lock(r.id, r.state, r.user, r.hostname, [], r.txn_id, r.agent_info, r.created_at,
                            r.acquired_at, r.last_heartbeat) for r in conn.execute(query)}  # fmt: skip
        if locks:
            comps = select(LockComponentRow).order_by(LockComponentRow.id)
            if ids is not None:
                comps = comps.where(LockComponentRow.lock_id.in_(ids))
            for c in conn.execute(comps):
                if c.lock_id in locks:
                    locks[c.lock_id].components.append(
                        LockComponent(c.lock_type, c.level, c.db_name, c.table_name, c.partition_name, c.operation)
                    )
        return list(locks.values())

    def _try_acquire(self, conn: Connection, lock_id: int) -> str:
        """Acquire `lock_id` if nothing older stands in its way; returns the lock's state."""
        everything = self._load(conn)
        mine = next(lk for lk in everything if lk.id == lock_id)
        for other in everything:
            if other.id == lock_id or (other.state == "WAITING" and other.id > lock_id):
                continue
            if other.txn_id and other.txn_id == mine.txn_id:
                continue
            if any(_conflict(a, b) for a in mine.components for b in other.components):
                return "WAITING"
        t = now_ms()
        conn.execute(update(LockRow).where(LockRow.id == lock_id).values(state="ACQUIRED", acquired_at=t, last_heartbeat=t))
        return "ACQUIRED"

    def lock(self, components: list[LockComponent], *, txn_id: int = 0, hostname: str = "",
             agent_info: str | None = None) -> tuple[int, str]:  # fmt: skip
        """Request a lock; returns (lock id, ACQUIRED or WAITING)."""
        if not components:
            raise InvalidInput("a lock request needs at least one component")
        for c in components:
            if c.lock_type not in LOCK_TYPES or c.level not in LEVELS or not c.db_name:
                raise InvalidInput(f"bad lock component {c.lock_type} {c.level} on {c.db_name}.{c.table_name}")
            c.db_name = c.db_name.lower()
            c.table_name = c.table_name.lower() if c.table_name else None
        with self._write() as conn:
            self._serialize(conn)
            self._expire(conn)
            if txn_id:
                self._open_txn(conn, txn_id)
            t = now_ms()
            lock_id = conn.execute(insert(LockRow).values(
                txn_id=txn_id, state="WAITING", user=self.ctx.user, hostname=hostname or "", agent_info=agent_info,
                created_at=t, last_heartbeat=t)).inserted_primary_key[0]  # fmt: skip
            conn.execute(insert(LockComponentRow), [
                {"lock_id": lock_id, "lock_type": c.lock_type, "level": c.level, "db_name": c.db_name,
                 "table_name": c.table_name, "partition_name": c.partition_name, "operation": c.operation}
                for c in components])  # fmt: skip
            return lock_id, self._try_acquire(conn, lock_id)

    def check(self, lock_id: int) -> str:
        """The state of a lock, acquiring it now if it was waiting and its way is clear (a heartbeat too)."""
        with self._write() as conn:
            self._serialize(conn)
            self._expire(conn)
            state = conn.execute(select(LockRow.state).where(LockRow.id == lock_id)).scalar()
            if state is None:
                raise NotFound(f"lock {lock_id} does not exist (released, or expired after {self.ctx.lock_timeout_s} s)")
            conn.execute(update(LockRow).where(LockRow.id == lock_id).values(last_heartbeat=now_ms()))
            return state if state == "ACQUIRED" else self._try_acquire(conn, lock_id)

    def unlock(self, lock_id: int) -> None:
        """Release a lock. An unknown (already released or expired) lock is not an error, as in HMS:
        pyiceberg unlocks in a `finally`, after its commit has landed."""
        with self._write() as conn:
            row = conn.execute(select(LockRow.txn_id).where(LockRow.id == lock_id)).first()
            if row is None:
                return
            if row.txn_id:
                raise Conflict(f"lock {lock_id} belongs to transaction {row.txn_id}: commit or abort it instead")
            conn.execute(delete(LockRow).where(LockRow.id == lock_id))

    def heartbeat(self, lock_id: int = 0, txn_id: int = 0) -> None:
        with self._write() as conn:
            t = now_ms()
            if lock_id and not conn.execute(update(LockRow).where(LockRow.id == lock_id).values(last_heartbeat=t)).rowcount:
                raise NotFound(f"lock {lock_id} does not exist")
            if txn_id:
                self._open_txn(conn, txn_id)
                conn.execute(update(TransactionRow).where(TransactionRow.id == txn_id).values(last_heartbeat=t))
                conn.execute(update(LockRow).where(LockRow.txn_id == txn_id).values(last_heartbeat=t))

    def show(self, db: str | None = None, table: str | None = None) -> list[Lock]:
        with self._write() as conn:
            self._expire(conn)
            locks = self._load(conn)
        return [
            lk for lk in locks
            if any((db is None or c.db_name == db.lower()) and (table is None or c.table_name == table.lower())
                   for c in lk.components)
        ]  # fmt: skip

    # --- transactions ---------------------------------------------------------------------------------

    def _open_txn(self, conn: Connection, txn_id: int) -> None:
        state = conn.execute(select(TransactionRow.state).where(TransactionRow.id == txn_id)).scalar()
        if state is None:
            raise NotFound(f"transaction {txn_id} does not exist")
        if state != "OPEN":
            raise Conflict(f"transaction {txn_id} is already {state.lower()}")

    def open_transactions(self, count: int, hostname: str = "") -> list[int]:
        if not 0 < count <= 100_000:
            raise InvalidInput(f"cannot open {count} transactions")
        with self._write() as conn:
            t = now_ms()
            return [
                conn.execute(insert(TransactionRow).values(state="OPEN", user=self.ctx.user, hostname=hostname,
                                                           started_at=t, last_heartbeat=t)).inserted_primary_key[0]
                for _ in range(count)
            ]  # fmt: skip

    def end_transaction(self, txn_id: int, commit: bool) -> None:
        """Commit or abort an open transaction, releasing its locks. As in HMS, committing a committed one
        or aborting an aborted one again succeeds (a client's retry); aborting a committed one is NotFound
        (HMS: NoSuchTxnException) and committing an aborted one a Conflict (TxnAbortedException)."""
        with self._write() as conn:
            self._serialize(conn)
            self._expire(conn)
            state = conn.execute(select(TransactionRow.state).where(TransactionRow.id == txn_id)).scalar()
            if state == ("COMMITTED" if commit else "ABORTED"):
                return
            if state == "COMMITTED":
                raise NotFound(f"transaction {txn_id} is already committed")
            self._open_txn(conn, txn_id)
            conn.execute(delete(LockRow).where(LockRow.txn_id == txn_id))
            conn.execute(update(TransactionRow).where(TransactionRow.id == txn_id)
                         .values(state="COMMITTED" if commit else "ABORTED"))  # fmt: skip

    def open_transaction_ids(self) -> tuple[int, list[int]]:
        """(the highest transaction id given out, the ids still open)."""
        with self._write() as conn:
            self._expire(conn)
            rows = conn.execute(select(TransactionRow.id, TransactionRow.state)).all()
        return max((r.id for r in rows), default=0), sorted(r.id for r in rows if r.state == "OPEN")

    # --- write ids of ACID tables -----------------------------------------------------------------------

    def allocate_write_ids(self, db: str, table: str, txn_ids: list[int]) -> list[tuple[int, int]]:
        """(transaction, write id) for each open transaction: the table's next write ids, or the one a
        transaction already has."""
        db, table = db.lower(), table.lower()
        with self._write() as conn:
            self._serialize(conn)
            out = []
            for txn in txn_ids:
                self._open_txn(conn, txn)
                where = (WriteIdRow.db_name == db, WriteIdRow.table_name == table)
                have = conn.execute(select(WriteIdRow.write_id).where(*where, WriteIdRow.txn_id == txn)).scalar()
                if have is None:
                    have = (conn.execute(select(func.max(WriteIdRow.write_id)).where(*where)).scalar() or 0) + 1
                    conn.execute(insert(WriteIdRow).values(db_name=db, table_name=table, txn_id=txn, write_id=have))
                out.append((txn, have))
            return out

    def valid_write_ids(self, db: str, table: str) -> tuple[int, list[int], list[bool]]:
        """(high water mark, write ids not valid to read — of open or aborted transactions — and for
        each of those whether it was aborted)."""
        with self._read() as conn:
            rows = conn.execute(
                select(WriteIdRow.write_id, TransactionRow.state)
                .join(TransactionRow, TransactionRow.id == WriteIdRow.txn_id, isouter=True)
                .where(WriteIdRow.db_name == db.lower(), WriteIdRow.table_name == table.lower())
                .order_by(WriteIdRow.write_id)
            ).all()
        invalid = [(w, state) for w, state in rows if state in ("OPEN", "ABORTED")]
        return max((w for w, _ in rows), default=0), [w for w, _ in invalid], [s == "ABORTED" for _, s in invalid]
