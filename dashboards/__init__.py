"""The kapoutcomes Streamlit app: `kapoutcomes dashboard` runs dashboards/app.py."""
