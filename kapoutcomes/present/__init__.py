"""What people read: figures, formatting, the cohort report (JSON, text, HTML), patient summary, data contracts."""
