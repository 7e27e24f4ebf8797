"""What the model says back about the data: label issues, odd pictures, annotator
agreement, saliency maps and the embedding map. Above training (it reads runs and
predictions), below imports and exports."""
