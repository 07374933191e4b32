"""Using a trained model on a new clip: read it, spot onset and apex, predict, explain (``me-resnet predict``)."""
