"""The tabs of the tools panel (models, federation, many texts): a WAI-ARIA tablist."""
from ui.dom import element


class Tabs:
    """Tabs with ``role=tab`` inside ``tablist_id``; each controls the panel that its
    ``aria-controls`` names. Click or Enter/Space shows a tab; arrow keys, Home and End move
    between tabs (roving tabindex), as the WAI-ARIA tabs pattern describes."""

    def __init__(self, tablist_id):
        self.tabs = []
        found = element(tablist_id).querySelectorAll("[role=tab]")
        for i in range(found.length):
            self.tabs.append(found[i])

    def enable(self):
        for tab in self.tabs:
            tab.addEventListener("click", self._on_click)
            tab.addEventListener("keydown", self._on_key)
        return None

    def _on_click(self, event):
        self.show(event.currentTarget.id)
        return None

    def _on_key(self, event):
        index = self.tabs.index(event.currentTarget)
        n = len(self.tabs)
        target = -1
        if event.key == "ArrowRight" or event.key == "ArrowDown":
            target = (index + 1) % n
        elif event.key == "ArrowLeft" or event.key == "ArrowUp":
            target = (index + n - 1) % n
        elif event.key == "Home":
            target = 0
        elif event.key == "End":
            target = n - 1
        if target >= 0:
            event.preventDefault()
            self.show(self.tabs[target].id)
            self.tabs[target].focus()
        return None

    def show(self, tab_id):
        """Select the tab ``tab_id`` and show its panel; hide the others."""
        for tab in self.tabs:
            selected = tab.id == tab_id
            tab.setAttribute("aria-selected", "true" if selected else "false")
            tab.tabIndex = 0 if selected else -1
            element(tab.getAttribute("aria-controls")).hidden = not selected
        return None
