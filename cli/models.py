"""``python -m engine models add|pull|list``: the base-model catalog of the operator's models
folder (``jobs.catalog``). Pulling is an operator action: it never runs inside a training job."""
from __future__ import annotations

import sys

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    from jobs.catalog import PULLABLE

    p = sub.add_parser("models", help="models add PATH | pull NAME | list: the base-model catalog",
                       description="The base-model catalog: files and folders of the models folder "
                                   "(TRAINYARD_MODELS_DIR) with family, format, size and the sha256 they load under.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="copy a file or folder into the models folder and record its digest")
    add.add_argument("path", help="the file or folder (one already inside the models folder is recorded in place)")
    add.add_argument("--family", help="the family it starts (read from the name for yolo*, osnet* and ViT folders)")
    add.add_argument("--task", choices=["detect", "segment", "classify"], help="yolo: the task (default from the name)")
    add.add_argument("--name", help="name inside the models folder (default: the file's name)")
    add.add_argument("--replace", action="store_true", help="overwrite a different file of that name and re-record it")
    add.set_defaults(run=_add)
    pull = actions.add_parser("pull", help="fetch a named base model with its library's downloader",
                              description="Names: " + "; ".join(PULLABLE) + ". Offline it fails at once, "
                                          "naming the file to place and where.")
    pull.add_argument("name")
    pull.set_defaults(run=_pull, opens_db_itself=True)  # offline it answers before the database is opened
    ls = actions.add_parser("list", help="the catalog, each entry checked against its digest")
    ls.set_defaults(run=_list)


def _print_entry(verb: str, e) -> None:
    print(f"{verb} {e.name}: family {e.family}{f' ({e.task})' if e.task else ''}, {e.format}, {e.size} bytes, "
          f"sha256 {e.sha256}")


def _add(args) -> int:
    from jobs.catalog import CatalogError, add_file

    try:
        entry = add_file(args.path, family=args.family, task=args.task, name=args.name, replace=args.replace)
    except (CatalogError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_entry("added", entry)
    return 0


def _pull(args) -> int:
    from jobs.catalog import CatalogError, pull, pull_check

    try:
        pull_check(args.name)
        from db.migrate import upgrade

        upgrade()
        entry = pull(args.name)
    except (CatalogError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the downloader's own failure (HTTP error, interrupted transfer)
        print(f"error: pulling {args.name!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    _print_entry("pulled", entry)
    return 0


def _list(args) -> int:
    from jobs.catalog import folder_report

    rows = folder_report()
    if not rows:
        print("the models folder holds nothing yet")
    for r in rows:
        print(f"{r['name']}\t{r['family'] or '-'}\t{r['task'] or '-'}\t{r['format']}\t{r['size'] or '-'}\t"
              f"{(r['sha256'] or '')[:12]}\t{r['check']}\t{r['source']}")
    return 0
