"""Small DOM helpers shared by the ui modules."""


def element(element_id):
    """The page element with this id (the page's stable ids are listed in index.html)."""
    return document.getElementById(element_id)


def cell(tag, text):
    """A new element ``tag`` holding ``text`` (as text, never as HTML)."""
    node = document.createElement(tag)
    node.textContent = text
    return node


def fill_confusion(table, labels, matrix):
    """Fill ``table`` with a confusion matrix ``matrix[true][predicted]`` over ``labels``."""
    table.innerHTML = ""
    header = document.createElement("tr")
    header.appendChild(cell("th", "true \\ predicted"))
    for label in labels:
        header.appendChild(cell("th", label))
    table.appendChild(header)
    for i in range(len(labels)):
        row = document.createElement("tr")
        row.appendChild(cell("th", labels[i]))
        for j in range(len(labels)):
            row.appendChild(cell("td", str(matrix[i][j])))
        table.appendChild(row)
    return None
