"""HaDES Studio dashboard (Streamlit). `app.py` is the entry point; pages are in
`pages/`; the shared, testable helpers are plain modules beside it."""
