"""The last pages of results, until the index changes: a query asked again (a popular
search, a page reloaded, a program polling) is answered at once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from indexer.search.results import Page

RESULT_CACHE_PAGES = 1000


class PageCache:
    """At most ``size`` pages, least recently asked dropped first; ``size`` 0 keeps none."""

    def __init__(self, size: int = RESULT_CACHE_PAGES) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Page | None:
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
            return found

    def put(self, key: Hashable, page: Page) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
