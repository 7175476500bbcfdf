"""What a screen reader and a keyboard user meet: the status indicator is a named button,
badges say what they count in readable colours, the shortcuts list is whole."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAccessible, QAccessibleActionInterface, QColor, QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QTreeWidget

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.gui import MainWindow, formatting
from peft_studio_offline.gui.dialogs.shortcuts import ShortcutsDialog
from tests.gui.conftest import Core, until

AA = 4.5


def dark_palette() -> QPalette:
    """A dark palette as a desktop in dark mode hands it over."""
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2d2d2d",
        QPalette.ColorRole.WindowText: "#f0f0f0",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.Text: "#f0f0f0",
        QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#f0f0f0",
        QPalette.ColorRole.Highlight: "#3d8ee6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#9a9a9a",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    return palette


async def _problems(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"endpoint": f"/{i}"}} for i in range(3)]
    )
    first, second = await core.queue.claim(limit=2)
    await core.queue.mark_failed(first.id, "boom", permanent=True)
    await core.queue.mark_conflict(second.id, local={"a": 1}, remote={"a": 2})
    await until(lambda: window.indicator.state is not None and window.indicator.state.failed == 1)


async def test_the_indicator_is_a_button_named_with_its_status(
    core: Core, window: MainWindow
) -> None:
    await _problems(core, window)
    face = QAccessible.queryAccessibleInterface(window.indicator)
    assert face is not None
    assert face.role() == QAccessible.Role.Button
    name = face.text(QAccessible.Text.Name)
    assert "1 pending" in name and "1 in conflict" in name and "1 failed" in name
    assert window.indicator.state is not None and window.indicator.state.word in name
    actions = face.actionInterface()
    assert actions is not None
    assert QAccessibleActionInterface.pressAction() in actions.actionNames()
    actions.doAction(QAccessibleActionInterface.pressAction())
    await until(lambda: window.details is not None and window.details.isVisible())
    window.details.close()  # type: ignore[union-attr]


async def test_badges_say_what_they_count(core: Core, window: MainWindow) -> None:
    await _problems(core, window)
    conflicts = window.indicator.findChild(QLabel, "offlineIndicatorConflicts")
    failed = window.indicator.findChild(QLabel, "offlineIndicatorFailed")
    assert conflicts is not None and failed is not None
    assert conflicts.text() == "1 in conflict" and failed.text() == "1 failed"
    assert failed.accessibleName() == "1 failed"


def _ink(widget: QLabel) -> tuple[QColor, QColor]:
    """The text and background colours a badge really paints, read from its pixels."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    counts: dict[int, int] = {}
    for y in range(image.height()):
        for x in range(image.width()):
            rgb = image.pixel(x, y)
            counts[rgb] = counts.get(rgb, 0) + 1
    background = max(counts, key=lambda c: counts[c])
    colours = [QColor.fromRgb(c) for c in counts]
    back = QColor.fromRgb(background)
    ink = max(colours, key=lambda c: formatting.contrast_ratio(c, back))
    return ink, back


async def test_badge_and_error_colours_meet_aa_in_light_and_dark(
    core: Core, window: MainWindow
) -> None:
    await _problems(core, window)
    for status in (OperationStatus.CONFLICT, OperationStatus.FAILED):
        background, text = formatting.BADGE_COLOURS[status]
        assert formatting.contrast_ratio(QColor(text), QColor(background)) >= AA
    for name in ("offlineIndicatorConflicts", "offlineIndicatorFailed"):
        badge = window.indicator.findChild(QLabel, name)
        assert badge is not None
        ink, back = _ink(badge)
        # Antialiased text reaches its full colour in the strokes' middle.
        assert formatting.contrast_ratio(ink, back) >= AA, name
    light = QApplication.palette()
    for palette in (light, dark_palette()):
        window_colour = palette.color(QPalette.ColorRole.Window)
        error = formatting.error_colour(palette)
        assert formatting.contrast_ratio(error, window_colour) >= AA, palette
        label = formatting.error_label(QLabel("The merged result is not valid JSON."))
        label.setPalette(palette)
        assert formatting.contrast_ratio(formatting.error_colour(label.palette()), window_colour)


async def test_the_indicator_shows_its_focus_and_has_a_shortcut(window: MainWindow) -> None:
    window.activateWindow()
    await until(lambda: QApplication.activeWindow() is window)
    window.view.setFocus()
    unfocused = window.indicator.grab().toImage()
    window.indicator.setFocus(Qt.FocusReason.TabFocusReason)
    await until(window.indicator.hasFocus)
    focused = window.indicator.grab().toImage()
    highlight = window.palette().color(QPalette.ColorRole.Highlight)
    ring = [
        focused.pixelColor(x, focused.height() // 2)
        for x in range(0, 4)
        if focused.pixelColor(x, focused.height() // 2)
        != unfocused.pixelColor(x, focused.height() // 2)
    ]
    assert ring, "no focus ring is drawn"
    assert any(formatting.contrast_ratio(c, highlight) < 1.5 for c in ring)
    # A shortcut opens the details, with the keyboard focus visibly on its first button.
    action = window.actions_.details
    assert not action.shortcut().isEmpty()
    QTest.keySequence(window, action.shortcut())
    await until(lambda: window.details is not None and window.details.isVisible())
    details = window.details
    assert details is not None
    assert details.focusWidget() is details.buttons[0]
    assert details.testAttribute(Qt.WidgetAttribute.WA_KeyboardFocusChange)
    details.close()


async def test_clicking_the_indicator_still_opens_the_details(window: MainWindow) -> None:
    QTest.mouseClick(window.indicator, Qt.MouseButton.LeftButton, pos=QPoint(3, 3))
    assert window.details is not None and window.details.isVisible()
    window.details.close()


async def test_shortcuts_list_is_whole_in_order_and_without_counts(
    core: Core, window: MainWindow
) -> None:
    await _problems(core, window)
    assert "(1)" in window.actions_.conflicts.text()
    dialog = window.open_shortcuts()
    assert isinstance(dialog, ShortcutsDialog)
    tree = dialog.findChild(QTreeWidget)
    assert tree is not None
    names = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert names == sorted(names, key=str.casefold)
    assert "Resolve Conflicts" in names and not any("(" in n for n in names)
    assert "Connection Details" in names
    dialog.show()
    await until(dialog.isVisible)
    metrics = tree.fontMetrics()
    width = tree.header().sectionSize(1)
    for i in range(tree.topLevelItemCount()):
        keys = tree.topLevelItem(i).text(1)
        assert metrics.horizontalAdvance(keys) <= width, keys
        rect = tree.visualItemRect(tree.topLevelItem(i))
        assert rect.right() <= tree.viewport().width()
    dialog.close()
