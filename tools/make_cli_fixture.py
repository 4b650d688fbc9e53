"""Write the labelled CSV the command-line tests train and evaluate on.

Usage: python -m tools.make_cli_fixture DATA_DIR
DATA_DIR holds ``sentiment_sentences_domain.csv`` (text,label: amazon/imdb/yelp), extracted
from the npm package sentiment 5.0.2 (package/test/fixtures/{amazon,imdb,yelp}.json; UCI
Sentiment Labelled Sentences, CC BY 4.0). Texts are de-duplicated first.
Output: tests/fixtures/domain_sentences.csv, 80 rows per label in a seeded random order,
written by the core's CSV export (header text,label; CRLF).
"""
import csv
import random
import sys
from pathlib import Path

from tinybert_core.table_import import examples_csv

PER_LABEL = 80
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "domain_sentences.csv"


def main(argv):
    rows = {}
    with open(Path(argv[0]) / "sentiment_sentences_domain.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["text"].strip(), row["label"])
    by_label = {}
    for text, label in sorted(rows.items()):
        by_label.setdefault(label, []).append(text)
    rng = random.Random(20261207)
    out = []
    for label in sorted(by_label):
        texts = by_label[label]
        rng.shuffle(texts)
        out += [[text, label] for text in texts[:PER_LABEL]]
    rng.shuffle(out)
    OUT.write_bytes(examples_csv(out).encode("utf-8"))
    print(f"wrote {OUT.name}: {len(out)} rows")


if __name__ == "__main__":
    main(sys.argv[1:])
