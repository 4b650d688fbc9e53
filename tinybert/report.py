"""Scores of a head on labelled examples (the core's metrics) and their text form."""
from tinybert_core.metrics import accuracy, confusion_matrix, per_label_report


def score(labels, y_true, y_pred):
    """``{"examples", "accuracy", "per_label": [{label, precision, recall, f1, support}],
    "confusion": m[true][predicted], "labels"}`` for label indices into ``labels``."""
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    return {"examples": len(y_true), "accuracy": accuracy(y_true, y_pred),
            "per_label": per_label_report(matrix, labels), "confusion": matrix,
            "labels": list(labels)}


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
