"""What the timeline panes share: a ``timeline`` reactive that the app sets from the
pipeline's changes; each pane redraws itself when the part it shows changed."""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive


class TimelineView:
    """Mixin for a widget that shows part of the timeline (DESIGN.md "Timeline JSON").

    Set :attr:`timeline`; :meth:`render_timeline` runs when :attr:`shows` of it changed.
    """

    #: the timeline keys this pane draws from
    shows: tuple[str, ...] = ()
    timeline: reactive[dict[str, Any]] = reactive(dict, always_update=True, init=False)

    def watch_timeline(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old and all(old.get(k) == new.get(k) for k in self.shows):
            return
        self.render_timeline(new)

    def render_timeline(self, doc: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
