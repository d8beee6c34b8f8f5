"""``legacy-report [--title TEXT]``

Reads ``data/numbers.csv`` and renders ``templates/report.txt``, both found
relative to this file the way older code does it.
"""

import csv
import os
import sys
from string import Template

HERE = os.path.dirname(__file__)
TEMPLATE_PATH = os.path.join(HERE, "templates", "report.txt")
DATA_PATH = os.path.join(HERE, "data", "numbers.csv")

USAGE = "usage: legacy-report [--title TEXT]"


def read_values(path):
    """Return the ``value`` column of the CSV file at *path* as integers."""
    with open(path, newline="") as handle:
        return [int(row["value"]) for row in csv.DictReader(handle)]


def render(title, values):
    with open(TEMPLATE_PATH) as handle:
        template = Template(handle.read())
    count = len(values)
    total = sum(values)
    average = total / count if count else 0.0
    return template.substitute(
        title=title,
        rule="-" * len(title),
        count=count,
        total=total,
        average="{:.2f}".format(average),
    )


def parse_args(args):
    """Return the title; raise ValueError for anything not understood."""
    title = "Report: " + os.path.basename(DATA_PATH)
    args = list(args)
    while args:
        arg = args.pop(0)
        if arg == "--title" and args:
            title = args.pop(0)
        else:
            raise ValueError("unexpected argument: " + arg)
    return title


def run():
    try:
        title = parse_args(sys.argv[1:])
    except ValueError as error:
        sys.stderr.write("{}\nlegacy-report: error: {}\n".format(USAGE, error))
        return 2
    sys.stdout.write(render(title, read_values(DATA_PATH)))
    print("data-dir-is-real: " + ("yes" if os.path.isdir(HERE) else "no"))
    return 0


if __name__ == "__main__":
    sys.exit(run())
