"""Steering: hooks on decoder blocks, the SAE adapter, vector files, CAA/SAS extraction and BiPO/YaPO training."""
