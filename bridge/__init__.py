"""R Bridge: serve R models over HTTP from an embedded R session."""

from .model import load_model

__all__ = ["load_model"]
__version__ = "0.1.0"
