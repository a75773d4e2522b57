"""Shared Streamlit helpers. Light imports only: a page must open in well under a second."""
