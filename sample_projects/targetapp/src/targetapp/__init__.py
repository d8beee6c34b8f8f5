"""Print which variant of fakenative was shipped, and which marker-chosen dependencies came along."""

import importlib.util
import sys


def main() -> None:
    import fakenative

    found = [name for name in ("tomli", "winonly") if importlib.util.find_spec(name) is not None]
    print(f"tag={fakenative.TAG} python={sys.version_info[0]}.{sys.version_info[1]} with={','.join(found) or '-'}")
