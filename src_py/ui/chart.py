"""A small SVG chart of training loss and accuracy per epoch (DOM only)."""

WIDTH = 300
HEIGHT = 120
PAD = 24
SVG = "http://www.w3.org/2000/svg"


def _node(kind, attrs):
    node = document.createElementNS(SVG, kind)
    for key in __pragma__("js", "{}", "Object.keys(attrs)"):
        node.setAttribute(key, attrs[key])
    return node


def _points(values, top):
    """Polyline points for ``values`` scaled so that ``top`` is the chart's top."""
    parts = []
    n = len(values)
    for i in range(n):
        x = PAD + (WIDTH - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (values[i] / top if top > 0 else 0)
        parts.append(x.toFixed(1) + "," + y.toFixed(1))
    return " ".join(parts)


def describe_history(history):
    """The chart in one sentence (its text alternative; the epoch table holds every value)."""
    n = len(history)
    if n == 0:
        return "Loss and accuracy per epoch: not trained yet"
    first = history[0]
    last = history[n - 1]
    return ("Loss and accuracy per epoch, " + str(n) + " epochs: loss from "
            + first["loss"].toPrecision(3) + " to " + last["loss"].toPrecision(3)
            + ", accuracy from " + (first["accuracy"] * 100).toFixed(1) + " % to "
            + (last["accuracy"] * 100).toFixed(1) + " %")


def draw_history(svg, history):
    """Draw loss (red, scaled to its maximum) and accuracy (blue, 0 to 100 %)."""
    svg.innerHTML = ""
    svg.setAttribute("aria-label", describe_history(history))
    if len(history) == 0:
        return None
    losses = [entry["loss"] for entry in history]
    accuracies = [entry["accuracy"] for entry in history]
    top = max(losses)
    svg.appendChild(_node("line", {"x1": PAD, "y1": HEIGHT - PAD, "x2": WIDTH - PAD,
                                   "y2": HEIGHT - PAD, "class": "axis"}))
    svg.appendChild(_node("polyline", {"class": "loss", "points": _points(losses, top)}))
    svg.appendChild(_node("polyline", {"class": "accuracy", "points": _points(accuracies, 1)}))
    labels = [["loss (max " + top.toPrecision(3) + ")", PAD, 12, "t-loss"],
              ["accuracy (0–100 %)", WIDTH / 2, 12, "t-accuracy"],
              ["epoch 1", PAD, HEIGHT - 8, "t-axis"],
              ["epoch " + str(len(history)), WIDTH - PAD - 30, HEIGHT - 8, "t-axis"]]
    for label in labels:
        text = _node("text", {"x": label[1], "y": label[2], "class": label[3]})
        text.textContent = label[0]
        svg.appendChild(text)
    return None
