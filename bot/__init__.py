"""Hamsafar (همسفر): a Persian/English customer-journey assistant on Rasa 3.6."""

__version__ = "0.1.0"
