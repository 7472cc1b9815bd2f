"""What tasks read from Plex through the target: its libraries, an item, what PlexSync last
wrote to an item, and the path index. Typed, so a rename inside `plex/` shows in mypy."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from plex.client import PlexClient, Section
from plex.index import LibraryIndex
from plex.index_refresh import IndexRefresher
from plex.plays import HistoryRow, PlexPlays
from plex.writer import ItemState


class PlexReads:
    def __init__(self, client: PlexClient, index: LibraryIndex, library: IndexRefresher) -> None:
        self._client = client
        self._index = index
        self._library = library

    def sections(self) -> List[Section]:
        """The libraries PlexSync syncs (the `plex_library` setting's, or every movie and show one)."""
        return list(self._library.sections)

    def section_for(self, plex_path: str) -> Optional[Section]:
        """The synced library whose folder holds `plex_path` (a path as Plex sees it), if any."""
        return self._library.section_for(plex_path)

    def ensure_fresh(self) -> None:
        """Rebuild the path index if it is stale (free when it is warm)."""
        self._library.ensure_fresh()

    def indexed_files(self) -> int:
        return self._index.count()

    def item(self, rating_key: int) -> ItemState:
        """One item, read now (one GET); ItemVanished when Plex no longer has it."""
        return self._client.item(rating_key)

    def views(self, rating_key: int) -> List[HistoryRow]:
        """The item's completed views in Plex (every account), from Plex's play history."""
        return [row for page in PlexPlays(self._client).history(None, rating_key=rating_key) for row in page]

    def written(self, rating_key: int) -> Dict[str, Any]:
        """What PlexSync last wrote to the item, by field."""
        return self._index.written(rating_key)
