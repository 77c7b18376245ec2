"""The review workspace: `himaya serve`, a server-rendered web app (FastAPI, Jinja2, htmx served locally)."""
