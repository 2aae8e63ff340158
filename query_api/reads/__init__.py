"""SQL over the read-model views, one module per read model, answering response models."""
