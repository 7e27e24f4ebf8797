"""`python -m app.cli`: how `serve` starts its worker child, without the console script."""

from app.cli import main

main()
