"""Write the small labelled fixture the federated end-to-end test uses.

Usage: python tools/make_fl_fixture.py DATA_DIR
DATA_DIR holds ``sentiment_sentences_domain.csv`` (text,label: amazon/imdb/yelp), extracted
from the npm package sentiment 5.0.2 (package/test/fixtures/{amazon,imdb,yelp}.json).
Texts are de-duplicated before the split, so no held-out text is also a training text.
Output: tests/fixtures/domain_sentences.json with ``client_a``, ``client_b`` (20 per label
each) and ``held_out`` (100 per label) lists of [text, label].
"""
import csv
import json
import random
import sys
from pathlib import Path

PER_CLIENT = 20
HELD_OUT = 100
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "domain_sentences.json"


def main(argv):
    rows = {}
    with open(Path(argv[0]) / "sentiment_sentences_domain.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["text"].strip(), row["label"])
    by_label = {}
    for text, label in sorted(rows.items()):
        by_label.setdefault(label, []).append(text)
    rng = random.Random(20261121)
    out = {"labels": sorted(by_label), "client_a": [], "client_b": [], "held_out": []}
    for label in out["labels"]:
        texts = by_label[label]
        rng.shuffle(texts)
        out["client_a"] += [[t, label] for t in texts[:PER_CLIENT]]
        out["client_b"] += [[t, label] for t in texts[PER_CLIENT:2 * PER_CLIENT]]
        out["held_out"] += [[t, label] for t in texts[2 * PER_CLIENT:2 * PER_CLIENT + HELD_OUT]]
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT.name}: {sum(len(v) for k, v in out.items() if k != 'labels')} rows")


if __name__ == "__main__":
    main(sys.argv[1:])
