"""``python -m vxlanlens``: the same as the ``vxlanlens`` command."""

from .cli import main

if __name__ == "__main__":
    main()
