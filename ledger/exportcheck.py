"""Check the hash chains of a Ledger export, with the standard library only.

No database and no app: this file runs on its own, anywhere Python 3 does,

    python3 exportcheck.py ledger-export.json

and ``flask --app ledger verify FILE`` runs the same code. Each agreement of
an export lists its chain's links in order. A link is a JSON object; its
"hash" member is SHA-256 over the previous link's hash (an empty string before
the first), a newline, and the canonical JSON of the link without "hash":
keys sorted, no spaces (separators "," and ":"), UTF-8, non-ASCII kept as is.
The last hash must be the agreement's "chain_head", and the number of links
its "chain_length". Links name people, agreements and revisions by UUID and
give times in UTC with microseconds, so they mean the same in any instance.
"""

import hashlib
import json
import sys


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check(export):
    """Return a list of problems (empty when every chain verifies), and the
    number of agreements and links checked."""
    problems, links = [], 0
    agreements = export.get("agreements") if isinstance(export, dict) else None
    if not isinstance(agreements, list):
        return ["the file has no list of agreements: it is not a Ledger export"], 0, 0
    for index, agreement in enumerate(agreements):
        where = f"agreement {index + 1} ({agreement.get('uuid', 'no uuid')})"
        chain = agreement.get("links")
        if not isinstance(chain, list):
            problems.append(f"{where}: it has no list of links")
            continue
        head = ""
        for position, item in enumerate(chain, start=1):
            if not isinstance(item, dict) or "hash" not in item:
                problems.append(f"{where}, link {position}: it has no hash")
                break
            body = {key: value for key, value in item.items() if key != "hash"}
            if body.get("agreement") != agreement.get("uuid"):
                problems.append(f"{where}, link {position}: it belongs to another agreement")
                break
            head = hashlib.sha256(head.encode() + b"\n" + canonical(body).encode()).hexdigest()
            if head != item["hash"]:
                problems.append(
                    f"{where}, link {position} ({body.get('type', 'link')}): its content or "
                    "position does not match its hash"
                )
                break
        else:
            links += len(chain)
            if len(chain) != agreement.get("chain_length"):
                problems.append(
                    f"{where}: the export records {agreement.get('chain_length')} links, "
                    f"{len(chain)} are there"
                )
            elif head != agreement.get("chain_head", ""):
                problems.append(f"{where}: the last link does not match the recorded head")
    return problems, len(agreements), links


def main(argv):
    if len(argv) != 2:
        print("usage: exportcheck.py EXPORT.json", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as file:
            export = json.load(file)
    except (OSError, ValueError) as exc:
        print(f"Cannot read {argv[1]}: {exc}", file=sys.stderr)
        return 1
    problems, agreements, links = check(export)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"All {agreements} agreement chains in the export verify ({links} links).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
