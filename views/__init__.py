"""The app's page scripts (run by st.navigation in app.py) and their shared widgets (_shared)."""
