"""Command line of ``python -m tinybert``: argument parsing and exit statuses.

Exit status 0 on success, 2 for bad input (a file, column, head file or option that cannot be
used; argparse's usage errors too), 1 for anything else (no built model, onnxruntime missing).
Expected failures print one message on stderr, never a traceback.
"""
import argparse
import sys

from tinybert import commands
from tinybert.errors import InputError, SetupError
from tinybert_core.table_parse import FORMATS

DESCRIPTION = ("Train and use the page's text classifier from Python: the same encoder file, "
               "tokenizer, trainer, settings and head files.")
EPILOG = """examples:
  python -m tinybert train data.csv --text text --label label --out head.safetensors --holdout
  python -m tinybert eval test.csv --head head.safetensors
  python -m tinybert predict --head head.safetensors "Free entry to win a prize" "See you at 6"
  python -m tinybert embed data.csv --text text --out vectors.npy"""


def _fraction(value):
    try:
        fraction = float(value)
    except ValueError:
        fraction = None
    if fraction is None or not 0 < fraction < 1:
        raise argparse.ArgumentTypeError("the hold-out fraction must be between 0 and 1 "
                                          f"(e.g. 0.2), got {value!r}")
    return fraction


def _common(parser):
    group = parser.add_argument_group("model and cache")
    group.add_argument("--model", metavar="DIR",
                       help="built model folder (default: public/model of this repository)")
    group.add_argument("--cache", metavar="DIR",
                       help="embedding cache folder (default: $TINYBERT_CACHE, else "
                            "~/.cache/tinybert)")
    group.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    group.add_argument("--threads", type=int, default=1, metavar="N",
                       help="onnxruntime threads (default 1: a short text runs faster on one "
                            "thread than split over several; 0: onnxruntime decides)")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: when stderr is a terminal)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _file(parser, label):
    parser.add_argument("file", help="CSV, TSV or JSON Lines file with a header row")
    parser.add_argument("--text", metavar="COL", help="text column (default: guessed)")
    if label:
        parser.add_argument("--label", metavar="COL", help="label column (default: guessed)")
    parser.add_argument("--format", choices=FORMATS,
                        help="file format (default: from the extension, else the text)")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m tinybert", description=DESCRIPTION,
                                     epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("embed", help="embed the texts of a file (filling the cache)")
    _file(p, False)
    p.add_argument("--out", metavar="FILE.npy", help="save the embeddings (float32 rows)")
    _common(p)
    p.set_defaults(run=commands.embed)

    p = sub.add_parser("train", help="train a head on a labelled file and save it")
    _file(p, True)
    p.add_argument("--out", required=True, metavar="HEAD", help="head file to write "
                   "(.safetensors; the page's Import reads it)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs (default: the page's, 5)")
    p.add_argument("--seed", type=int, metavar="N",
                   help="seed of the trainer and the hold-out split (default: the page's, 0)")
    p.add_argument("--holdout", type=_fraction, nargs="?", const=0.2, metavar="FRACTION",
                   help="hold out this fraction of each label and report on it (0.2 if "
                        "given without a value); the head trains on the rest")
    _common(p)
    p.set_defaults(run=commands.train)

    p = sub.add_parser("eval", help="score a head on a labelled file")
    _file(p, True)
    p.add_argument("--head", required=True, metavar="HEAD", help="head file (.safetensors)")
    _common(p)
    p.set_defaults(run=commands.evaluate)

    p = sub.add_parser("predict", help="classify texts given on the command line")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--head", required=True, metavar="HEAD", help="head file (.safetensors)")
    _common(p)
    p.set_defaults(run=commands.predict)
    return parser


def main(argv=None):
    """Run one command; returns the exit status (see the module docstring)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.run(args)
    except (InputError, SetupError) as error:
        print(f"tinybert {args.command}: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print(f"tinybert {args.command}: interrupted", file=sys.stderr)
        return 130
