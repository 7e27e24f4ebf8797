"""Projects and who may work in them."""
