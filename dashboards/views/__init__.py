"""The app's pages, one thin script each (run by st.navigation, not imported)."""
