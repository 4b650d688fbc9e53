"""Write the held-out CSV the parity tests score the page and the Python twin on.

Usage: python -m tools.make_heldout_fixture DATA_DIR
DATA_DIR holds ``sentiment_sentences_domain.csv`` (text,label: amazon/imdb/yelp), extracted
from the npm package sentiment 5.0.2 (package/test/fixtures/{amazon,imdb,yelp}.json; UCI
Sentiment Labelled Sentences, CC BY 4.0). Texts are trimmed and de-duplicated (a text with
two labels is left out), and none of the texts of tests/fixtures/domain_sentences.csv (the
training file, ``tools.make_cli_fixture``) is taken.
Output: tests/fixtures/domain_heldout.csv, 1,000 rows (334 yelp, 333 imdb, 333 amazon) in a
seeded random order, written by the core's CSV export (header text,label; CRLF).
"""
import csv
import random
import sys
from pathlib import Path

from tinybert_core.table_import import examples_csv

ROWS = 1000
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
OUT = FIXTURES / "domain_heldout.csv"
TRAINING = FIXTURES / "domain_sentences.csv"


def main(argv):
    with open(TRAINING, encoding="utf-8", newline="") as f:
        taken = {row["text"] for row in csv.DictReader(f)}
    labels = {}
    with open(Path(argv[0]) / "sentiment_sentences_domain.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            labels.setdefault(row["text"].strip(), set()).add(row["label"])
    by_label = {}
    for text, names in sorted(labels.items()):
        if len(names) == 1 and text and text not in taken:
            by_label.setdefault(names.pop(), []).append(text)
    rng = random.Random(20261208)
    out = []
    order = ["yelp", "imdb", "amazon"]
    for k, label in enumerate(order):
        texts = by_label[label]
        rng.shuffle(texts)
        out += [[text, label] for text in texts[:ROWS // 3 + (1 if k < ROWS % 3 else 0)]]
    rng.shuffle(out)
    OUT.write_bytes(examples_csv(out).encode("utf-8"))
    print(f"wrote {OUT.name}: {len(out)} rows")


if __name__ == "__main__":
    main(sys.argv[1:])
