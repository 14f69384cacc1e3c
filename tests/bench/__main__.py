"""`python -m tests.bench [scenario ...]`: run the scenarios and print one table of ratios."""
import sys
import traceback

from tests.bench import Row, discover, format_table, progress


def main(argv: list[str]) -> int:
    rows, failed = [], []
    for module in discover(argv):
        progress(f"== {module.__name__}")
        try:
            rows.extend(Row.coerce(item) for item in module.run())
        except Exception:  # one broken scenario must not hide the others' results
            traceback.print_exc()
            failed.append(module.__name__)
    print(format_table(rows))
    if failed:
        print(f"\nfailed to run: {', '.join(failed)}")
    return 1 if failed or not all(row.met for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
