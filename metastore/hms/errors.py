"""Domain errors → the HMS exception each Thrift method declares.

Each method of the IDL declares its own exceptions (o1, o2, ...). A catalog error becomes the first
declared exception in its preference list; anything unexpected becomes a MetaException (when declared)
with the error's text, so clients see a message rather than INTERNAL_ERROR. Spark relies on this: a
MetaException from get_partitions_by_filter makes it fall back to listing partitions.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import Counter

from sqlalchemy.exc import DBAPIError
from thrift.Thrift import TApplicationException

from metastore.catalog.errors import AlreadyExists, CatalogError, Conflict, Forbidden, InvalidInput, NotFound
from metastore.hms.gen.hive import ThriftHiveMetastore
from metastore.hms.gen.hive import ttypes as tt

log = logging.getLogger(__name__)

CALLS: Counter[str] = Counter()  # calls per method since start, reported by fb303 getCounters

_PREFERENCES: dict[type[CatalogError], tuple[type, ...]] = {
    NotFound: (tt.NoSuchObjectException, tt.NoSuchLockException, tt.UnknownTableException,
               tt.UnknownDBException, tt.NoSuchTxnException, tt.InvalidObjectException,
               tt.InvalidOperationException),  # alter_table/alter_partition/rename_partition: as HMS
    AlreadyExists: (tt.AlreadyExistsException, tt.InvalidObjectException, tt.InvalidOperationException),
    InvalidInput: (tt.InvalidObjectException, tt.InvalidInputException, tt.InvalidOperationException),
    Conflict: (tt.InvalidOperationException, tt.TxnOpenException, tt.TxnAbortedException),
    # HMS answers authorization failures with MetaException (e.g. "User x does not have privileges for ...")
    Forbidden: (tt.MetaException, tt.NoSuchObjectException, tt.InvalidOperationException,
                tt.InvalidObjectException),
}  # fmt: skip


def declared_exceptions(method: str) -> tuple[type, ...]:
    result = getattr(ThriftHiveMetastore, f"{method}_result", None)
    if result is None:
        return ()
    return tuple(spec[3][0] for spec in result.thrift_spec if spec is not None and spec[2] != "success")


def _translate(error: Exception, declared: tuple[type, ...]) -> Exception:
    for kind, preferred in _PREFERENCES.items():
        if isinstance(error, kind):
            for cls in preferred:
                if cls in declared:
                    return cls(message=str(error))
            break
    if tt.MetaException in declared:
        return tt.MetaException(message=str(error))
    if isinstance(error, TApplicationException):
        return error
    # nothing declared fits (e.g. lock, abort_txn): the processor would answer a bare "Internal error"
    return TApplicationException(TApplicationException.INTERNAL_ERROR, str(error))


def _wrap(name: str, fn):
    declared = declared_exceptions(name)

    @functools.wraps(fn)
    def call(handler, *args, **kwargs):
        CALLS[name] += 1
        try:
            handler.authorize(name, args)
            return fn(handler, *args, **kwargs)
        except CatalogError as e:
            raise _translate(e, declared) from e
        except DBAPIError as e:
            ref = uuid.uuid4().hex[:12]
            log.exception("storage error in %s (error %s)", name, ref)
            raise _translate(Exception(f"{name} failed: a storage error (logged by the server as {ref})"),
                             declared) from e  # fmt: skip
        except Exception as e:
            if isinstance(e, declared):
                raise
            ref = uuid.uuid4().hex[:12]
            log.exception("unexpected error in %s (error %s)", name, ref)
            # internal exception text never reaches a client: it may name files, settings or code
            raise _translate(Exception(f"{name} failed: an internal error (logged by the server as {ref})"),
                             declared) from e  # fmt: skip

    return call


def map_errors(handler_cls: type) -> None:
    """Wrap every IDL method `handler_cls` defines so that it raises only what the method declares;
    `<method>_wire` variants (encoded answers, see wire.py) raise what `<method>` declares."""
    for name in dir(ThriftHiveMetastore.Iface):
        if name.startswith("_"):
            continue
        for attr in (name, f"{name}_wire"):
            if attr in vars(handler_cls):
                setattr(handler_cls, attr, _wrap(name, vars(handler_cls)[attr]))
