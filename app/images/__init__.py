"""Images: decoding, archives, storage."""
