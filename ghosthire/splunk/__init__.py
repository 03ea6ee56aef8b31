"""The Splunk side of the build: the SPL backend (backend.py) and the app package (app.py, build_app)."""
