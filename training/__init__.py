"""Training, evaluation and data checks for entente (``python -m training.train`` etc.)."""
