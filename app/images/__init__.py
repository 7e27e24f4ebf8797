"""Images: their rows, their stored files and the gallery's queries; app.imports adds them."""
