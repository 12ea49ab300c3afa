"""Tools around quantized models."""
