"""The demo shop: its data files (``*.json``, read by `store.seed`) and the demo cases picked from it."""
