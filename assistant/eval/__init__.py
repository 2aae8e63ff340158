"""The assistant's labelled evaluation set and its metrics."""
