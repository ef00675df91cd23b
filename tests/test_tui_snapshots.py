"""Snapshots of every view (pytest-textual-snapshot): what a user sees.

Regenerate after a deliberate change with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the SVGs in ``tests/__snapshots__`` before committing.
"""

from __future__ import annotations

import pytest

from analyzer.keys.store import load_keys
from analyzer.tui.app import MbmsApp
from tests.conftest import CAPTURES
from tests.test_tui import until

pytest.importorskip("pytest_textual_snapshot")

SIZE = (150, 45)


def _app(capture: str) -> MbmsApp:
    path = CAPTURES / capture
    app = MbmsApp([str(path)], load_keys(path.with_suffix(".keys.toml")))
    app.animation_level = "none"  # the tab underline slides: not a frame to compare
    return app


async def _loaded(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.loaded is not None, timeout=20)
    await pilot.pause(0.2)


async def _focus_on_tab(pilot, tab: str, widget: str):
    """Once loaded: tab *tab* shown (its underline settled), *widget* focused."""
    await _loaded(pilot)
    pilot.app.query_one("#tabs").active = tab
    await pilot.pause(0.6)  # the tab underline settles
    target = pilot.app.query_one(widget)
    target.focus()
    return target


def test_packets_screen_with_a_field_selected(snap_compare):
    async def before(pilot):
        await _loaded(pilot)
        app = pilot.app
        row = next(r for r in app.rows if r.pkt.summary.startswith("MIKEY PSK msg, MSK"))
        app.packet_table.move_cursor(app._row_of(row.pkt.capture, row.pkt.frame))
        tree = app.query_one("#details")
        await until(pilot, lambda: str(tree.root.label).startswith(f"Frame {row.pkt.frame} ")
                    and app.packet_table.cursor_visible())
        node = next(n for n in _walk(tree.root) if str(n.label).startswith("CSB ID"))
        tree.focus()
        tree.move_cursor(node)
        hexview = app.query_one("#hex")
        await until(pilot, lambda: hexview.span is not None)
        await pilot.pause(0.2)

    assert snap_compare(_app("lab-basic.pcapng"), terminal_size=SIZE, run_before=before)


def test_keys_screen(snap_compare):
    async def before(pilot):
        tree = await _focus_on_tab(pilot, "tab-keys", "#keys")
        tree.move_cursor(tree.root.children[1].children[0])  # the first MSK: its events
        await until(pilot,
                    lambda: "delivered" in str(pilot.app.query_one("#key-events").render()))
        await pilot.pause(0.2)

    assert snap_compare(_app("lab-push.pcapng"), terminal_size=SIZE, run_before=before)


def test_procedure_ladder_screen(snap_compare):
    async def before(pilot):
        procs = await _focus_on_tab(pilot, "tab-procedures", "#procedures")
        procs.move_cursor(row=1)
        await until(pilot, lambda: "outcome:" in str(pilot.app.query_one("#ladder").render()))
        await pilot.pause(0.2)

    assert snap_compare(_app("lab-basic.pcapng"), terminal_size=SIZE, run_before=before)


def _view(number: int, settle=None):
    """Press the view's key (as a user does), let it settle."""
    async def before(pilot):
        await _loaded(pilot)
        await pilot.press(str(number))
        await pilot.pause(0.6)  # the tab underline settles
        if settle is not None:
            await settle(pilot)
        await pilot.pause(0.2)
    return before


def test_packets_screen_in_absolute_time_with_findings_coloured(snap_compare):
    """``t`` switches the time format (relative -> absolute UTC); rows with a finding have
    their own colours."""
    async def before(pilot):
        await _loaded(pilot)
        await pilot.press("t")
        app = pilot.app
        frame = next(f["frame"] for f in app.timeline["findings"] if f["code"] == "mikey.replay")
        app.packet_table.move_cursor(app._row_of(0, frame))
        await pilot.pause(0.4)

    assert snap_compare(_app("lab-attacks.pcapng"), terminal_size=SIZE, run_before=before)


def test_timeline_view(snap_compare):
    async def settle(pilot):
        await pilot.press("down")  # the first MTK's lane, chosen

    assert snap_compare(_app("lab-attacks.pcapng"), terminal_size=SIZE,
                        run_before=_view(3, settle))


def test_timeline_view_zoomed_in_delta_time(snap_compare):
    async def settle(pilot):
        await pilot.press("t", "t", "plus", "right")

    assert snap_compare(_app("lab-push.pcapng"), terminal_size=SIZE,
                        run_before=_view(3, settle))


def test_findings_view(snap_compare):
    assert snap_compare(_app("lab-attacks.pcapng"), terminal_size=SIZE, run_before=_view(5))


def test_plots_view(snap_compare):
    assert snap_compare(_app("lab-solicited-pull.pcapng"), terminal_size=SIZE,
                        run_before=_view(6))


def test_help_screen(snap_compare):
    async def before(pilot):
        await _loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    assert snap_compare(_app("lab-basic.pcapng"), terminal_size=SIZE, run_before=before)


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)
