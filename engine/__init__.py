"""Trainyard's training library: pure Python and torch, no Streamlit, no queue.

Importing ``engine`` is light; the heavy libraries load inside each family's trainer module.
"""
