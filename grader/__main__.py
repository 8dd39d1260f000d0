import sys

from .cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["check"]:
        args = args[1:]
    raise SystemExit(main(args))
