"""The text form of a head's scores (``tinybert_core.metrics.score``, as the page computes
them)."""


def _number(value):
    return "    -" if value is None else f"{value:.3f}"


def render(result):
    """The score as text: accuracy, a per-label table and the confusion matrix."""
    labels = result["labels"]
    width = max(8, max(len(label) for label in labels))
    lines = [f"accuracy {result['accuracy']:.4f} on {result['examples']} examples", "",
             f"{'label':<{width}}  precision  recall     f1  support"]
    for entry in result["per_label"]:
        lines.append(f"{entry['label']:<{width}}  {_number(entry['precision']):>9}  "
                     f"{_number(entry['recall']):>6}  {_number(entry['f1']):>5}  "
                     f"{entry['support']:>7}")
    cell = max(6, max(len(label) for label in labels),
               max(len(str(n)) for row in result["confusion"] for n in row))
    lines += ["", "confusion (rows: true label, columns: predicted)",
              " " * width + "  " + "  ".join(f"{label:>{cell}}" for label in labels)]
    for label, row in zip(labels, result["confusion"]):
        lines.append(f"{label:<{width}}  " + "  ".join(f"{n:>{cell}}" for n in row))
    return "\n".join(lines)
