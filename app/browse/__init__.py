"""Pages that compose images with their labels and the newest model's predictions: the
gallery, one image's page and the tiles. It sits above training and labeling."""
