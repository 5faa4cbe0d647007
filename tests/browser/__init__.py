"""Browser tests: a real Chromium drives the app over HTTP (SQLite only)."""
