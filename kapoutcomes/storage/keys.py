"""Which key a store is used with: never a silently replaced one.

A store records the fingerprint (``key_id``) and the derivation of the installation secret it
was first used with. ``for_store`` then

* creates a new secret only for a store that holds nothing yet (a new installation);
* refuses a store that holds data when secret.key is missing or damaged, with the recovery
  steps (restore the key from the backup taken with the store): a new key would silently split
  every patient into two pseudonyms and break the audit chain;
* refuses a key that is not the one the store was written with.

Stores from before derived keys keep working: their 32-byte secret.key is used as it was
(derivation 0) and its fingerprint is recorded the first time the store is opened for writing.
"""

from __future__ import annotations

import os

import duckdb

from kapoutcomes.storage import privacy
from kapoutcomes.storage.store import Store, StoreError, problem

RECOVERY = (
    "Restore secret.key from the backup taken with the store (the two are backed up "
    "together: see docs/security.md, 'Key backup and recovery'), then try again. Do not "
    "create a new key for a store that holds data: every patient would get a second id and "
    "the audit trail could no longer be checked."
)


def for_store(
    st: Store, path: str | os.PathLike[str] | None = None, create: bool = True
) -> privacy.Keys:
    """The keys ``st`` is used with; ``StoreError`` (with the recovery steps) when there is no
    valid key for a store that holds data, or the key is another installation's."""
    recorded = st.meta("key_id")
    try:
        keys = privacy.read_keys(path)
    except privacy.KeyFileError as e:
        if not e.missing or not create or recorded or st.holds_data():
            where = "" if st.in_memory else f"{st.path}: "
            raise StoreError(f"{where}refusing to open the store: {e}. {RECOVERY}") from None
        keys = privacy.create_keys(path)
    if recorded and recorded != keys.key_id:
        key_file = privacy.secret_path() if path is None else path
        raise StoreError(
            f"{st.path}: refusing to open the store: {key_file} is not the key this store was "
            f"written with (key id {keys.key_id}, the store expects {recorded}). {RECOVERY}"
        )
    if not recorded and not st.read_only:
        try:
            with st.transaction():
                st.set_meta("key_id", keys.key_id)
                st.set_meta("key_derivation", str(keys.derivation))
        except duckdb.TransactionException:
            pass  # another connection recorded it at the same moment
    return keys


def open_store(
    path: str | os.PathLike[str] | None = None, read_only: bool = False, create: bool = True
) -> tuple[Store, privacy.Keys]:
    """Open a store and check its key; the store is closed again when the key is refused."""
    st = Store(path, read_only=read_only)
    try:
        return st, for_store(st, create=create and not read_only)
    except duckdb.Error as e:  # a damaged file can open and fail at its first read
        st.close()
        raise StoreError(problem(st.path, e)) from None
    except BaseException:
        st.close()
        raise
