"""Small DOM helpers shared by the ui modules."""


def element(element_id):
    """The page element with this id (the page's stable ids are listed in index.html)."""
    return document.getElementById(element_id)


def cell(tag, text):
    """A new element ``tag`` holding ``text`` (as text, never as HTML)."""
    node = document.createElement(tag)
    node.textContent = text
    return node
